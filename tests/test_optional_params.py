"""A parameter whose default is None reaches the step as None on every engine, and a value
given at run time as that value: each engine's own command line is run here as a real
`stepc exec` subprocess, and the step's output (the repr of what it received) read back from
the store. The command-line text of "no value" is `null` (`stepc.params.NULL_TEXT`)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
from stepc.backends.argo_lint import lint_documents

from stepc.runtime.store import Store
from tests.argo_engine import container_args
from tests.helpers import REPO, stepc
from tests.test_argo_production import checked
from tests.test_gha_run import run_workflow
from tests.test_valohai_run import run_pipeline

FLOW = "tests/flows/run/optional_params.py"
NONE_SEEN = repr((None, None, None, None))
GIVEN_SEEN = repr((3, "deep", [1, 2], False))


def seen(store: Path, run_id: str) -> str:
    """The `seen` output of the probe step in ``store``'s run ``run_id``."""
    result = Store(store).read_result(run_id, "probe", None)
    assert result is not None and result.status == "succeeded", result
    value = Store(store).read_artifact(result.output("seen"))
    assert isinstance(value, str)
    return value


def run_exec(args: list[str]) -> None:
    """Run ``python ARGS`` (a `stepc exec` command line) from the repository; it must succeed."""
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_exec_reads_null_as_none_only_where_none_is_the_default(tmp_path: Path) -> None:
    base = ["-m", "stepc", "exec", FLOW, "--step", "probe", "--run-id", "r1", "--store", str(tmp_path / "s")]
    run_exec([*base, "-p", "max_depth=null", "-p", "label=null", "-p", "depths=null", "-p", "flag=null"])
    assert seen(tmp_path / "s", "r1") == NONE_SEEN
    # --params JSON still tells the text "null" from no value
    base[base.index("r1")] = "r2"
    run_exec([*base, "--params", '{"label": "null"}', "-p", "max_depth=0"])
    assert seen(tmp_path / "s", "r2") == repr((0, "null", None, None))


@pytest.mark.parametrize(("texts", "expected"), [((), NONE_SEEN), (("max_depth=null", "flag=null"), NONE_SEEN)])
def test_stepc_run_agrees(texts: tuple[str, ...], expected: str, tmp_path: Path) -> None:
    store = tmp_path / "s"
    done = stepc("run", FLOW, "-q", "--store", str(store), *(w for t in texts for w in ("-p", t)))
    assert done.returncode == 0, done.stdout + done.stderr
    (run_id,) = os.listdir(store / "runs")
    assert seen(store, run_id) == expected


def test_null_is_still_refused_where_none_is_no_value(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from stepc import step\n\n\n@step(outputs=['o'])\ndef probe(depth: int = 4):\n    return depth\n",
        encoding="utf-8",
    )
    store = str(tmp_path / "s")
    done = stepc("exec", str(flow), "--step", "probe", "--run-id", "r", "--store", store, "-p", "depth=null")
    assert done.returncode == 2 and "expects an int, got 'null'" in done.stderr, done.stderr


def argo_args(substitutions: dict[str, str]) -> list[str]:
    """The probe pod's command line, after Argo filled in the workflow parameters (their
    defaults from the document, over them ``substitutions``) and Kubernetes expanded it."""
    compiled = stepc("compile", FLOW, "--target", "argo", "-o", "-")
    assert compiled.returncode == 0, compiled.stderr
    (workflow,) = checked(compiled.stdout)  # a bool's enum holds its default, `null`
    spec = workflow["spec"]
    values = {p["name"]: p.get("value") for p in spec["arguments"]["parameters"]}
    values.update(substitutions)
    (container,) = [t["container"] for t in spec["templates"] if "container" in t]
    tags = {f"{{{{workflow.parameters.{name}}}}}": value for name, value in values.items()}
    return container_args(container, {**tags, "{{workflow.name}}": "run-1"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [({}, NONE_SEEN), ({"max_depth": "3", "label": "deep", "depths": "[1, 2]", "flag": "false"}, GIVEN_SEEN)],
    ids=["defaults", "given"],
)
def test_argo_pod_command(given: dict[str, str], expected: str, tmp_path: Path) -> None:
    args = argo_args(given)
    args[args.index("--store") + 1] = str(tmp_path / "s")
    run_exec(args)
    assert seen(tmp_path / "s", "run-1") == expected


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, NONE_SEEN),  # a scheduled run: no inputs at all
        ({"max_depth": "", "label": "", "depths": "", "flag": ""}, NONE_SEEN),  # a dispatch with the fields empty
        ({"max_depth": 3, "label": "deep", "depths": "[1, 2]", "flag": "false"}, GIVEN_SEEN),
    ],
    ids=["schedule", "empty", "given"],
)
def test_gha_dispatch(inputs: dict[str, Any], expected: str, tmp_path: Path) -> None:
    compiled = stepc("compile", FLOW, "--target", "gha", "-o", "-")
    assert compiled.returncode == 0, compiled.stderr
    runner, found = run_workflow("", FLOW, inputs, tmp_path, text=compiled.stdout)
    assert all(r["result"] == "success" for r in runner.results.values()), runner.logs
    assert found["probe"] == ("succeeded", {"seen": expected})


def airflow_task(text: str) -> tuple[str, dict[str, str]]:
    """The probe task's bash_command and env, read from the generated DAG's source."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BashOperator":
            keywords = {k.arg: k.value for k in node.keywords}
            command = ast.literal_eval(keywords["bash_command"])
            env = {}
            assert isinstance(keywords["env"], ast.Dict)
            for key, value in zip(keywords["env"].keys, keywords["env"].values, strict=True):
                assert key is not None
                if isinstance(value, ast.Call):  # literal('...') or literal(STORE): not templated
                    (arg,) = value.args
                    value = arg
                env[ast.literal_eval(key)] = ast.literal_eval(value) if isinstance(value, ast.Constant) else ""
            return command, env
    raise AssertionError("no BashOperator in the DAG")


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, NONE_SEEN), ({"max_depth": 3, "label": "deep", "depths": [1, 2], "flag": False}, GIVEN_SEEN)],
    ids=["defaults", "given"],
)
def test_airflow_task_command(params: dict[str, Any], expected: str, tmp_path: Path) -> None:
    compiled = stepc("compile", FLOW, "--target", "airflow", "-o", "-")
    assert compiled.returncode == 0, compiled.stderr
    command, env = airflow_task(compiled.stdout)
    # Airflow's trigger form sends every DAG param, its default where the user left it
    dag_params = {"max_depth": None, "label": None, "depths": None, "flag": None, **params}
    templates = jinja2.Environment()
    rendered = {k: templates.from_string(v).render(run_id="run-1", params=dag_params) for k, v in env.items()}
    rendered.update(STEPC_STORE=str(tmp_path / "s"), STEPC_PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, **rendered}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert seen(tmp_path / "s", "run-1") == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [({}, NONE_SEEN), ({"max_depth": 3, "label": "deep", "depths": "[1, 2]", "flag": "false"}, GIVEN_SEEN)],
    ids=["defaults", "given"],
)
def test_valohai_node(values: dict[str, Any], expected: str, tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    compiled = stepc("compile", FLOW, "--target", "valohai", "-o", str(out))
    assert compiled.returncode == 0, compiled.stderr
    (config,) = out.glob("*.valohai.yaml")
    assert "optional: true" in config.read_text(encoding="utf-8")  # Valohai would ask for a value otherwise
    runner, found = run_pipeline(config, {FLOW: REPO / FLOW}, values, tmp_path / "run")
    assert not runner.failed, runner.logs
    assert found["probe"] == ("succeeded", {"seen": expected})


def test_the_argo_lint_refuses_a_value_outside_the_enum() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n"
        "spec:\n  entrypoint: main\n  templates: [{name: main, container: {image: x}}]\n"
        "  arguments: {parameters: [{name: flag, value: 'null', enum: ['true', 'false']}]}\n"
    )
    assert lint_documents(text) == ["parameter 'flag': value 'null' is not one of its enum"]
    assert lint_documents(text.replace("'false']", "'false', 'null']")) == []
