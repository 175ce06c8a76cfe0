"""Metaflow configs: a JSON file beside the flow, a literal value and a plain one, used in
decorators (attribute chains and config_expr, calling a function of the module), in a
parameter's default and in the steps."""

import os
from collections.abc import Mapping

from metaflow import Config, FlowSpec, Parameter, config_expr, current, environment, project, resources, step

DEFAULTS = {"model": {"name": "Ridge", "alpha": 0.5}, "tags": ["a", "b"]}
HERE = os.path.dirname(__file__)


def label(cfg):
    return cfg.model.name.lower() + "_" + str(len(cfg.tags))


@project(name=config_expr("label(defaults)"))
class ConfigsFlow(FlowSpec):
    settings = Config("settings", default=os.path.join(HERE, "configs.json"))
    defaults = Config("defaults", default_value=DEFAULTS)
    text = Config("text", default_value='{"raw": true}', plain=True)
    alpha = Parameter("alpha", default=defaults.model.alpha)

    @environment(vars={"WORKERS": config_expr("str(settings.workers * 2)"), "MODEL": defaults.model.name})
    @resources(memory=settings.memory)
    @step
    def start(self):
        self.workers = os.environ["WORKERS"]
        self.model = os.environ["MODEL"]
        self.batch = self.settings.batch
        self.out = self.settings["paths"]["out"]
        self.tags = list(self.defaults.tags)
        self.names = sorted(current.parameter_names)  # configs are among them
        self.kinds = [isinstance(self.settings, Mapping), isinstance(self.text, str), self.text]
        try:
            self.settings.batch = 1
            self.read_only = False
        except TypeError:
            self.read_only = True
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "alpha": self.alpha,
            "workers": self.workers,
            "model": self.model,
            "batch": self.batch,
            "out": self.out,
            "tags": self.tags,
            "names": self.names,
            "kinds": self.kinds,
            "read_only": self.read_only,
            "same": self.settings.to_dict() == {"workers": 3, "memory": 2048, "batch": 16, "paths": {"out": "results"}},
        }
        print("summary", sorted(self.summary.items()))


if __name__ == "__main__":
    ConfigsFlow()
