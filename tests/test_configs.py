"""Metaflow configs (``Config``, ``config_expr``), read when stepc reads the flow: their values
in the IR and in decorators, their problems at their place, and what steps see under
``stepc run`` and ``stepc exec``. (Side by side with real Metaflow: the ``configs`` cases of
test_metaflow_oracle.py and the config flows of the corpus.)"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import jsonschema
import pytest

import stepc
from stepc import ir_json
from stepc.frontend import read_file
from tests.helpers import stepc as stepc_cli

FLOWS = Path(__file__).resolve().parent / "flows" / "metaflow"
HEAD = "import os\n\nfrom metaflow import Config, FlowSpec, Parameter, config_expr, environment, project, step\n\n"


def flow_with(tmp_path: Path, members: str, decorators: str = "", top: str = "") -> Path:
    path = tmp_path / "flow.py"
    body = textwrap.indent(textwrap.dedent(members).strip("\n"), "    ")
    above = textwrap.indent(textwrap.dedent(decorators).strip("\n"), "    ")
    path.write_text(
        f"{HEAD}{textwrap.dedent(top)}\nclass F(FlowSpec):\n{body}\n\n{above}\n    @step\n    def start(self):\n"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n",
        encoding="utf-8",
    )
    return path


def place(path: Path, snippet: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    assert text.count(snippet) == 1, snippet
    index = text.index(snippet)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def copied_flow(tmp_path: Path) -> Path:
    for name in ("configs.py", "configs.json"):
        shutil.copy(FLOWS / name, tmp_path / name)
    return tmp_path / "configs.py"


def test_values_are_read_into_the_ir_and_the_decorators(tmp_path: Path) -> None:
    result = read_file(str(copied_flow(tmp_path)))
    assert not [d for d in result.diagnostics if d.severity == "error"], result.diagnostics
    (pipeline,) = result.pipelines
    assert [(c.name, c.attribute, c.plain) for c in pipeline.configs] == [
        ("settings", "settings", False),  # in declaration order
        ("defaults", "defaults", False),
        ("text", "text", True),
    ]
    values = {c.name: c.value for c in pipeline.configs}
    assert values["settings"] == {"workers": 3, "memory": 2048, "batch": 16, "paths": {"out": "results"}}
    assert values["text"] == '{"raw": true}'  # plain: the text as written
    start = pipeline.step("start")
    assert dict(start.env) == {"MODEL": "Ridge", "WORKERS": "6"}  # cfg.a.b and config_expr(...)
    assert start.resources.memory == 2048 * 2**20
    assert pipeline.project == "ridge_2"  # config_expr calling a function of the module
    assert pipeline.param("alpha").default == 0.5  # a parameter's default from a config
    text = ir_json.to_json(pipeline)
    jsonschema.Draft202012Validator(ir_json.json_schema()).validate(json.loads(text))
    assert ir_json.to_json(ir_json.from_json(text)) == text


CONFIG_PROBLEMS = [
    ('cfg = Config("cfg", default="missing.json")', "", "S122", '"missing.json"', "cannot be read: missing.json"),
    (
        'cfg = Config("cfg", default="bad.json")',
        "",
        "S122",
        '"bad.json"',
        "(bad.json) is not JSON: Expecting property name",
    ),
    ('cfg = Config("cfg", default_value="[1, 2]")', "", "S122", '"[1, 2]"', "a list, not a JSON object"),
    ('cfg = Config("cfg", default_value="{oops")', "", "S122", '"{oops"', "default_value of Config 'cfg' is not JSON"),
    ('cfg = Config("cfg", default_value={}, parser="yaml.safe_load")', "", "S102", '"yaml.safe_load"', "parser="),
    ('cfg = Config("cfg", default="a.json", default_value={})', "", "S122", 'Config("cfg", default=', "not both"),
    ('cfg = Config("cfg", required=True)', "", "S122", 'Config("cfg", required', "is required"),
    ('cfg = Config("cfg", default_value=lambda ctx: {})', "", "S102", "lambda ctx: {}", "is a function"),
    (
        'cfg = Config("cfg", default_value={"a": 1})',
        '@environment(vars={"A": cfg.b})',
        "S102",
        "cfg.b",
        "the config has no key 'b' here (its keys: a)",
    ),
    (
        'cfg = Config("cfg", default_value={"a": 1})',
        '@environment(vars={"A": config_expr("open(cfg.a)")})',
        "S102",
        '"open(cfg.a)"',
        "only str, int, float, bool, len",
    ),
    (
        'cfg = Config("cfg", default_value={"a": 1})',
        '@environment(vars={"A": config_expr("cfg.a +")})',
        "S102",
        '"cfg.a +"',
        "is not a Python expression",
    ),
    (
        'cfg = Config("cfg", default_value={"a": "x"})',
        '@environment(vars={"A": config_expr("cfg.a * 10 ** 9")})',
        "S102",
        '"cfg.a * 10 ** 9"',
        "too large",
    ),
    (
        'cfg = Config("cfg", default_value={"a": 1})',
        '@environment(vars={"A": config_expr("twice(cfg.a)")})',
        "S102",
        '"twice(cfg.a)"',
        "function 'twice' is more than one `return <expression>`",
    ),
]


@pytest.mark.parametrize(("member", "decorator", "code", "at", "says"), CONFIG_PROBLEMS)
def test_problems_are_reported_at_their_place(
    tmp_path: Path, member: str, decorator: str, code: str, at: str, says: str
) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    top = "def twice(x):\n    y = x * 2\n    return y\n"
    path = flow_with(tmp_path, member, decorator, top)
    result = read_file(str(path))
    hits = [d for d in result.diagnostics if d.code == code]
    assert hits and result.pipelines == (), result.diagnostics
    assert (hits[0].line, hits[0].col) == place(path, at), hits[0]
    assert says in hits[0].message, hits[0].message
    done = stepc_cli("check", str(path))
    assert done.returncode == 1 and f"error[{code}]" in done.stderr and "Traceback" not in done.stdout + done.stderr


def test_config_expressions_evaluate_the_python_subset(tmp_path: Path) -> None:
    path = flow_with(
        tmp_path,
        'cfg = Config("settings", default_value={"name": " Ridge ", "n": 3, "tags": ["a", "b"], "on": True})',
        """
        @environment(vars={
            "A": config_expr("settings.name.strip().lower() + '-' + str(settings.n ** 2 // 2)"),
            "B": config_expr("'yes' if settings.on and 'a' in settings.tags else 'no'"),
            "C": config_expr("','.join(sorted(settings.tags, reverse=False) if False else settings.tags)"),
            "D": config_expr("str(len(settings.tags) <= settings.n < 10)"),
            "E": config_expr("settings['tags'][-1].upper()"),
            "F": config_expr("shout(settings.name)"),
            "G": cfg.tags[0],
        })
        """,
        top='def shout(text):\n    "A docstring is allowed."\n    return text.strip().upper() + "!"\n',
    )
    result = read_file(str(path))
    assert not result.diagnostics, result.diagnostics
    env = dict(result.pipelines[0].step("start").env)
    assert env == {"A": "ridge-4", "B": "yes", "C": "a,b", "D": "True", "E": "B", "F": "RIDGE!", "G": "a"}


def test_a_relative_path_is_read_from_the_flow_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "c.json").write_text('{"k": "v"}', encoding="utf-8")
    path = flow_with(tmp_path, 'cfg = Config("cfg", "conf/c.json")', '@environment(vars={"K": cfg.k})')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = stepc_cli("ir", str(path), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    ir = json.loads(done.stdout)
    assert ir["configs"] == [{"attribute": "cfg", "name": "cfg", "plain": False, "value": {"k": "v"}}]
    assert str(tmp_path) not in done.stdout  # no absolute path reaches the IR


def test_steps_see_the_file_as_it_is_when_the_run_starts(tmp_path: Path) -> None:
    flow = copied_flow(tmp_path)
    first = stepc.run(flow, store=tmp_path / "s")
    assert first.ok, first.error
    assert first["start"].outputs["workers"] == "6" and first["start"].outputs["batch"] == 16
    settings = json.loads((tmp_path / "configs.json").read_text(encoding="utf-8"))
    (tmp_path / "configs.json").write_text(json.dumps({**settings, "workers": 5, "batch": 8}), encoding="utf-8")
    second = stepc.run(flow, store=tmp_path / "s")
    assert second.ok, second.error
    assert second["start"].outputs["workers"] == "10" and second["start"].outputs["batch"] == 8


def test_an_engine_task_reads_the_config_as_the_compiled_files_say(tmp_path: Path) -> None:
    copied_flow(tmp_path)
    done = stepc_cli("exec", "configs.py", "--step", "start", "--run-id", "r1", "--store", "s", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "r1", "start", "kinds", "--store", "s", cwd=tmp_path)
    assert json.loads(shown.stdout) == [True, True, '{"raw": true}']
    compiled = stepc_cli("compile", "configs.py", "--target", "all", "-o", "out", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    argo = (tmp_path / "out" / "ConfigsFlow.argo.yaml").read_text(encoding="utf-8")
    assert 'name: "WORKERS"' in argo and 'value: "6"' in argo and 'generateName: "ridge-2-prod-configsflow-"' in argo
    assert "dag_id='ridge_2.prod.ConfigsFlow'" in (tmp_path / "out" / "ConfigsFlow_dag.py").read_text(encoding="utf-8")
