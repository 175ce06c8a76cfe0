"""Valohai: a valohai.yaml with a step per task and one pipeline of nodes and edges.

* Each Valohai step runs ``python -m stepc exec`` for its IR step (or each step of a group),
  between ``valohai_io pull`` (upstream store archives from ``/valohai/inputs``) and
  ``valohai_io push`` (this node's archive to ``/valohai/outputs``, and item lists as metadata).
* Pipeline parameters are Valohai step parameters, passed as ``-p name=value`` through
  ``{parameters}``; Valohai shell-quotes each value, and every parameter reaches every node
  through a pipeline parameter (a skipped producer is recognised by its condition downstream).
* A foreach step is a task node whose ``stepc_item`` parameter is fed by a metadata edge from
  the node that made the list (for a list parameter, from a small ``items`` node).
* Conditions are decided by ``stepc exec`` (status ``skipped``), those on an upstream artifact
  too: a pipeline edge cannot test a value, so every node starts, and the exec of a branch not
  taken reads the value from its input archive and records the skip.
* Valohai has no failure hook, so a failing node rolls back itself: when ``stepc exec`` fails,
  the node runs ``stepc exec --rollback`` over its own store (the results of every step before
  it) and then fails. A step with a rollback on a parallel branch of the failure is out of reach,
  so rollback is partial support (a warning); so is a schedule, which valohai.yaml cannot hold.

The file is ``<pipeline>.valohai.yaml`` so several flows can share an output folder; set
``file = "valohai.yaml"`` under ``[tool.stepc.valohai]`` for the name Valohai reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from stepc.diagnostics import Diagnostic
from stepc.ir import Pipeline, Step, parameters_read, thaw
from stepc.params import nullable
from stepc.runtime.plan import path_sources

from .base import Backend, GeneratedFile, file_stem
from .commands import ExecCall, shell_line
from .features import ACYCLIC_FEATURES, CACHE_NOTE
from .naming import NameRule, assign_names
from .plan import NameScheme, Plan, Unit, choose_machine, fused_resources, loop_of
from .settings import Setting
from .step_settings import unit_secrets, unit_value
from .valohai_io import RUN_ID, STORE
from .valohai_settings import VALOHAI_SETTINGS

# Node, step and parameter names: no dots (edges are `node.kind.key`), nothing a shell reads.
# A node's outputs reach the next as its input `stepc-<node>`, and Valohai's input names hold
# at most 64 characters (see valohai_lint.NAME_LIMIT): so nodes get 64 - len("stepc-").
INPUT_PREFIX = "stepc-"
NODE = NameRule(64 - len(INPUT_PREFIX), re.compile(r"[^A-Za-z0-9_-]"), lower=False, start=re.compile(r"[A-Za-z]"))
PARAM = NameRule(64, re.compile(r"[^A-Za-z0-9_]"), replacement="_", lower=False, start=re.compile(r"[A-Za-z_]"))
ITEM = "stepc_item"
VALOHAI_TYPES = {"int": "integer", "float": "float", "bool": "flag"}
_PASSABLE = re.compile(r"^[^\s{}=]+$")  # a name `-p NAME={v}` can carry literally
GPU_DEVICE = "nvidia.com/gpu"  # the device a GPU is requested as (valohai-yaml's example)
# The order of `stepc exec`'s arguments in a command (see `commands.ExecCall`).
EXEC_ORDER = ("pipeline", "rollback", "steps", "items_of", "run_id", "store", "raw", "retry")


@dataclasses.dataclass(frozen=True)
class ItemsNode:
    """A node that publishes the indices of a list parameter for the task fanning out over it."""

    name: str
    param: str


@dataclasses.dataclass(frozen=True)
class StepView:
    """One Valohai step (a unit's, or an items node's)."""

    name: str
    image: str
    command: list[str]
    parameters: list[dict[str, Any]]
    inputs: list[str]
    env: list[tuple[str, str]]
    time_limit: int | None
    environment: str | None
    description: str | None
    # Required variables without a default: Valohai gives them from the project's secret
    # environment variables (or a group), and refuses to start an execution without them.
    secrets: tuple[str, ...] = ()
    groups: list[str] = dataclasses.field(default_factory=list)
    # valohai-yaml's step `resources`: cpu (cores) and memory (MB) as min (memory also as
    # max), devices as counts; empty when the steps ask for nothing.
    resources: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class NodeLoop:
    """What feeds a task node's item parameter: a list parameter (through its items node) or a
    producer's metadata edge source (a lister's for a nested scope: index paths, not indices)."""

    param: str | None = None
    source: str | None = None
    paths: bool = False


@dataclasses.dataclass(frozen=True)
class NodeView:
    """A unit's step, the units its node takes inputs from (by name), and its loop."""

    step: StepView
    needs: tuple[str, ...]
    loop: NodeLoop | None


def _strings(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class ValohaiBackend(Backend):
    NAME = "valohai"
    DESCRIPTION = "Valohai: valohai.yaml with a step per task and a pipeline (nodes, edges, task nodes)"
    # Every condition is decided inside `stepc exec`, which reads upstream artifacts itself.
    FEATURES: ClassVar[frozenset[str]] = ACYCLIC_FEATURES  # PARTIAL says what is honoured in part
    # GPUs are whole once an environment with GPUs is configured (see `partial`).
    PARTIAL: ClassVar[dict[str, str]] = {
        "retry": (
            "Valohai's on-error: retry has no count, so `stepc exec --retry` retries in the same execution: "
            "an attempt that ends the process or the execution (a crash, the time limit) is not retried"
        ),
        "timeout": (
            "Valohai's time-limit bounds the whole execution (every attempt, the waits and setup_minutes), "
            "so one attempt is not stopped at its own timeout"
        ),
        "gpu": (
            "the default environment has no GPU: list an environment with GPUs in [tool.stepc.valohai] "
            "environments (until then the step runs in the default one)"
        ),
        "rollback": (
            "Valohai has no failure hook, so a failing node rolls back the steps before it: a failure "
            "on a parallel branch does not roll this step back"
        ),
        "schedule": "valohai.yaml cannot hold one: add a scheduled trigger in Valohai",
        "cache": CACHE_NOTE,
        "max_parallel": (
            "a task node of valohai.yaml has no bound on its executions at once, so Valohai runs the items "
            "as the environment's machines allow"
        ),
        "run_max_parallel": (
            "valohai.yaml has no bound on a pipeline's executions at once: Valohai runs the nodes as the "
            "environment's machines allow"
        ),
    }
    SETTINGS: ClassVar[dict[str, Setting]] = VALOHAI_SETTINGS
    NAMES: ClassVar[NameScheme] = NameScheme(NODE)

    def partial(self) -> dict[str, str]:
        gpus = any(isinstance(e, dict) and int(e.get("gpu", 0)) for e in self.setting("environments"))
        return {k: v for k, v in self.PARTIAL.items() if not (gpus and k == "gpu")}

    def unit_runs_in(self) -> str | None:
        return "execution"

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        for param in pipeline.params:
            if not _PASSABLE.match(param.name):
                found.append(self.unsupported(pipeline, None, f"parameter {param.name!r}", "not a command-line name"))
        gpus_partial = "gpu" in self.partial()  # then the GPU warning has said it
        found.extend(self.group_timeout_warnings(pipeline))
        for unit in self.units(pipeline):
            own = any("environment" in s.engine_settings(self.NAME) for s in unit.steps)
            if (
                not own
                and not self._environment(unit.steps)[1]
                and not (gpus_partial and any(s.resources.gpu for s in unit.steps))
            ):
                message = (
                    f"step '{unit.first.name}' needs more than the default environment has (GPUs, CPU or memory), "
                    "and no entry of [tool.stepc.valohai] environments holds it: it runs in the default environment"
                )
                found.append(self.warning(pipeline, unit.first, message))
            if len({loop_of(pipeline, s) for s in unit.steps}) > 1:
                found.append(self.group_differs(pipeline, unit, "execution", "foreach source"))
        return found

    def units(self, pipeline: Pipeline) -> list[Unit]:
        return list(self.plan(pipeline).units)

    def image_steps(self, plan: Plan) -> list[Step]:
        return list(plan.steps)

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        path = str(self.setting("file") or f"{file_stem(pipeline.name)}.valohai.yaml")
        yield path, self.render("valohai/valohai.yaml.j2", **self.view(pipeline))

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        from .valohai_lint import lint_config

        return [self.lint_error(pipeline, f.path, problem) for f in files for problem in lint_config(f.content)]

    # -- settings -----------------------------------------------------------------------------

    def _install(self) -> list[str]:
        value = self.setting("install")
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def _environment(self, steps: tuple[Step, ...]) -> tuple[str | None, bool]:
        """The environment from the resource map: ``environment`` (its capacity given by
        ``default_capacity``, no GPU) for what it holds, else the first of ``environments`` that
        holds the steps, fewest GPUs first; and whether anything configured holds them."""
        default = self.setting("environment")
        capacity = dict(self.setting("default_capacity"))
        table = list(self.setting("environments"))
        chosen, found = choose_machine(fused_resources(steps), capacity, table, "environment")
        if chosen is None:
            return (str(default) if default else None), found
        return str(chosen), True

    # -- the view the template renders --------------------------------------------------------

    def view(self, pipeline: Pipeline) -> dict[str, Any]:
        plan = self.plan(pipeline)
        units = plan.units
        pnames = self._param_names(plan)
        list_params = sorted({loop.name for loop in plan.loops if loop.kind == "param"})
        taken = frozenset(u.name for u in units)
        item_names = assign_names([f"items-{p}" for p in list_params], NODE, taken)
        items_nodes = [ItemsNode(item_names[f"items-{p}"], p) for p in list_params]
        steps: list[StepView] = []
        nodes: list[dict[str, str]] = []
        edges: list[list[str]] = []
        for node in items_nodes:
            steps.append(self._items_step(pipeline, node, pnames))
            nodes.append({"name": node.name, "type": "execution", "step": node.name})
        for view in self.walk(plan):
            steps.append(view.step)
            nodes.append({"name": view.step.name, "type": "task" if view.loop else "execution", "step": view.step.name})
            edges.extend([f"{name}.output.*", f"{view.step.name}.input.{INPUT_PREFIX}{name}"] for name in view.needs)
            if view.loop is not None and view.loop.param is not None:
                source = next(n.name for n in items_nodes if n.param == view.loop.param)
                edges.append([f"{source}.metadata.stepc_items", f"{view.step.name}.parameter.{ITEM}"])
            elif view.loop is not None:
                edges.append([view.loop.source, f"{view.step.name}.parameter.{ITEM}"])
        # A pipeline parameter feeds the nodes whose step declares it; one no node reads is left out.
        targets: dict[str, list[str]] = {p.name: [] for p in pipeline.params}
        declared = {pnames[p.name]: p.name for p in pipeline.params}
        for step in steps:
            for entry in step.parameters:
                if entry["name"] in declared:
                    targets[declared[entry["name"]]].append(f"{step.name}.parameter.{entry['name']}")
        pipeline_params = [
            {"name": pnames[p.name], "targets": targets[p.name], "default": self._default_text(p.name, pipeline)}
            for p in pipeline.params
            if targets[p.name]
        ]
        return {
            "steps": steps,
            "pipeline": {
                "name": self.deployment_name(pipeline),
                "nodes": nodes,
                "edges": edges,
                "parameters": pipeline_params,
            },
        }

    @staticmethod
    def _param_names(plan: Plan) -> dict[str, str]:
        return assign_names([p.name for p in plan.pipeline.params], PARAM, frozenset({ITEM}))

    def _step_parameters(self, plan: Plan) -> list[dict[str, Any]]:
        pnames = self._param_names(plan)
        return [self._parameter(plan.pipeline, p.name, pnames[p.name]) for p in plan.pipeline.params]

    def task_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> NodeView:
        pnames = self._param_names(plan)
        # Only the parameters the unit reads: its functions', conditions' and list's (for a
        # lister, those of the lists its scopes iterate and of their producers' conditions).
        reading = unit.steps
        if unit.lists is not None:
            head = unit.first
            reading = (*(plan.pipeline.step(n) for n in head.scope), *path_sources(plan.pipeline, head))
        read = {pnames[name] for name in parameters_read(reading)}
        params = [p for p in self.per_plan(plan, "parameters", self._step_parameters) if p["name"] in read]
        loop = self.loop_view(plan, unit)
        inputs = sorted(unit.needs, key=lambda name: plan.index(plan.unit(name)))
        if unit.lists is not None:
            return NodeView(self._lister_step(plan, unit, params, inputs), unit.needs, None)
        step = self._step(plan, unit, params, inputs, self._feed_keys(plan), loop)
        return NodeView(step, unit.needs, loop)

    def loop_view(self, plan: Plan, unit: Unit) -> NodeLoop | None:
        """What feeds the task node's item parameter: a list parameter's items node, or the
        producer's metadata."""
        loop = unit.loop
        if loop is None:
            return None
        if loop.kind == "param":
            return NodeLoop(param=loop.name)
        if loop.kind == "paths":  # the lister's control line is metadata: its `paths`
            return NodeLoop(source=f"{plan.lister(loop).name}.metadata.paths", paths=True)
        assert loop.producer is not None
        key = self._feed_keys(plan)[(loop.producer, loop.name)]
        return NodeLoop(source=f"{plan.owner[loop.producer].name}.metadata.{key}")

    def resources_view(self, plan: Plan, unit: Unit) -> str | None:
        own = unit_value(unit, self.NAME, "environment", None)
        return str(own) if own is not None else self._environment(unit.steps)[0]

    def _default_text(self, name: str, pipeline: Pipeline) -> Any:
        param = pipeline.param(name)
        if param.required:
            return None
        value = thaw(param.default)
        return json.dumps(value, sort_keys=True) if param.type in ("list", "dict") else value

    def _parameter(self, pipeline: Pipeline, name: str, vh_name: str) -> dict[str, Any]:
        param = pipeline.param(name)
        # A flag is a checkbox, never unset: a bool that may stay None is the text true/false.
        kind = "string" if nullable(param) else VALOHAI_TYPES.get(param.type, "string")
        entry: dict[str, Any] = {"name": vh_name, "type": kind, "description": param.description or None}
        if kind == "flag":
            entry["pass_true_as"] = f"-p {name}=true"
            entry["pass_false_as"] = f"-p {name}=false"
        else:
            entry["pass_as"] = f"-p {name}={{v}}"
        if param.required:
            entry["optional"] = False
        else:
            entry["default"] = self._default_text(name, pipeline)
            if nullable(param):  # no value given: Valohai leaves `-p` out, and the default holds
                entry["optional"] = True
        return entry

    def _feed_keys(self, plan: Plan) -> dict[tuple[str, str], str]:
        """(step, output) -> the metadata key its item indices are published under."""
        return self.per_plan(plan, "feed_keys", self._name_feeds)

    @staticmethod
    def _name_feeds(plan: Plan) -> dict[tuple[str, str], str]:
        pairs = [pair for unit in plan.units for pair in unit.feeds]
        keys = assign_names([f"{s}_{a}" for s, a in pairs], PARAM)
        return {(s, a): f"stepc_items_{keys[f'{s}_{a}']}" for s, a in pairs}

    def _items_step(self, pipeline: Pipeline, node: ItemsNode, pnames: dict[str, str]) -> StepView:
        param = self._parameter(pipeline, node.param, pnames[node.param])
        return StepView(
            name=node.name,
            image=pipeline.image,
            command=[*self._install(), "python -m stepc.backends.valohai_io items --key stepc_items {parameters}"],
            parameters=[param],
            inputs=[],
            env=[],
            time_limit=None,
            environment=self._environment(())[0],
            description=f"indices of the list parameter {node.param}",
        )

    def _lister_step(self, plan: Plan, unit: Unit, params: list[dict[str, Any]], inputs: list[str]) -> StepView:
        """A lister's execution: its control line, Valohai metadata, carries the index paths;
        its archive passes on the store it pulled, as any node's does."""
        pipeline = plan.pipeline
        call = ExecCall(
            "python", '"$STEPC_FLOW"', '"$STEPC_PIPELINE"', items_of='"$STEPC_ITEMS_OF"', run_id=RUN_ID, store=STORE,
            raw=("{parameters}",),
        )  # fmt: skip
        return StepView(
            name=unit.name,
            image=unit.first.image,
            command=[
                *self._install(),
                f"python -m stepc.backends.valohai_io pull --store {STORE}",
                shell_line(call.argv(EXEC_ORDER)),
                f"python -m stepc.backends.valohai_io push --store {STORE} --unit {unit.name}",
            ],
            parameters=list(params),
            inputs=[f"{INPUT_PREFIX}{name}" for name in inputs],
            env=[("STEPC_FLOW", pipeline.source), ("STEPC_PIPELINE", pipeline.name), ("STEPC_ITEMS_OF", unit.label)],
            time_limit=None,
            environment=self._environment(())[0],
            description=f"the item paths of the nested foreach {unit.label}",
        )

    def _step(
        self,
        plan: Plan,
        unit: Unit,
        params: list[dict[str, Any]],
        inputs: list[str],
        feed_keys: dict[tuple[str, str], str],
        loop: NodeLoop | None,
    ) -> StepView:
        pipeline = plan.pipeline
        command = [*self._install(), f"python -m stepc.backends.valohai_io pull --store {STORE}"]
        # Whether a step here or before has a rollback: then a failure rolls back what succeeded.
        rollbacks = any(s.rollback for s in unit.steps) or plan.rollback_before(unit)
        env: list[tuple[str, str]] = [("STEPC_FLOW", pipeline.source), ("STEPC_PIPELINE", pipeline.name)]
        call = ExecCall("python", '"$STEPC_FLOW"', '"$STEPC_PIPELINE"', run_id=RUN_ID, store=STORE)
        rollback = shell_line(replace(call, rollback=True).argv(EXEC_ORDER))
        for index, step in enumerate(unit.steps, start=1):
            env.append((f"STEPC_STEP_{index}", step.name))
            run = replace(call, steps=(f'"$STEPC_STEP_{index}"',), raw=("{parameters}",), retry=bool(step.retry.times))
            line = shell_line(run.argv(EXEC_ORDER))
            if rollbacks:  # on failure: roll back what succeeded before, then fail
                line += f" || ({rollback}; exit 1)"
            command.append(line)
        mine = {key: [s, a] for (s, a), key in feed_keys.items() if any(s == x.name for x in unit.steps)}
        if mine:
            env.append(("STEPC_FEEDS", json.dumps(mine, sort_keys=True)))
        push = f"python -m stepc.backends.valohai_io push --store {STORE} --unit {unit.name}"
        command.append(push + (f" {{parameter:{ITEM}}}" if loop is not None else ""))
        step_params = list(params)
        if loop is not None and loop.paths:
            step_params.append(
                {
                    "name": ITEM,
                    "type": "string",
                    "pass_as": "--item={v}",
                    "default": "0/0",
                    "description": "the index path of the nested foreach item (set by the pipeline)",
                }  # fmt: skip
            )
        elif loop is not None:
            step_params.append(
                {
                    "name": ITEM,
                    "type": "integer",
                    "pass_as": "--item={v}",
                    "default": 0,
                    "min": 0,
                    "description": "the foreach item (set by the pipeline)",
                }  # fmt: skip
            )
        env += sorted({kv for s in unit.steps for kv in s.env})
        limit = None
        if unit.worst_seconds is not None:
            limit = math.ceil(unit.worst_seconds) + 60 * int(self.setting("setup_minutes"))
        return StepView(
            name=unit.name,
            image=unit.first.image,
            command=command,
            parameters=step_params,
            inputs=[f"{INPUT_PREFIX}{name}" for name in inputs],
            env=env,
            time_limit=limit,
            environment=self.resources_view(plan, unit),
            description=" / ".join(s.description for s in unit.steps if s.description) or None,
            secrets=unit_secrets(unit),
            groups=_strings(self.unit_setting(unit, "environment_variable_groups")),
            resources=self._resources(unit),
        )

    @staticmethod
    def _resources(unit: Unit) -> dict[str, Any]:
        """The unit's requests as valohai-yaml's step ``resources`` (disk has no field there)."""
        r = unit.resources
        found: dict[str, Any] = {}
        if r.cpu is not None:
            found["cpu"] = {"min": r.cpu}
        if r.memory is not None:
            mb = math.ceil(r.memory / 1_000_000)
            found["memory"] = {"min": mb, "max": mb}
        if r.gpu:
            found["devices"] = {GPU_DEVICE: r.gpu}
        return found
