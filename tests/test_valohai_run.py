"""Run a generated valohai.yaml pipeline locally, node by node along its edges, the way Valohai
would: commands built by valohai-yaml itself (its `{parameters}` interpolation and quoting),
`/valohai/inputs` and `/valohai/outputs` mapped to temporary folders (`VH_INPUTS_DIR`,
`VH_OUTPUTS_DIR`), output -> input edges as file copies, JSON lines on stdout as metadata, and a
task node run once per item of the metadata list fed to it. The store the nodes leave behind
must hold the same results as `stepc run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import valohai_yaml
from stepc.backends.valohai_io import RUN_ID

from stepc.runtime.store import Store
from tests.helpers import GOLDEN, REPO
from tests.test_gha_run import checkout, comparable, reference, stored

COMPILED = GOLDEN / "compiled"


class Pipeline:
    """A small Valohai: executes one pipeline of a parsed valohai.yaml."""

    def __init__(self, text: str, checkout: Path, work: Path, values: dict[str, Any]) -> None:
        config = valohai_yaml.parse(text)
        (self.pipeline,) = config.pipelines.values()
        self.steps = config.steps
        self.checkout = checkout
        self.work = work
        self.values = values  # pipeline parameter values, by Valohai parameter name
        self.outputs: dict[str, list[Path]] = {}  # node -> its output files (all executions)
        self.metadata: dict[str, dict[str, Any]] = {}  # node -> the metadata it printed
        self.executions: dict[str, int] = {}
        self.logs: dict[str, str] = {}
        self.lock = threading.Lock()
        self.failed: list[str] = []  # nodes with a failed execution

    def order(self) -> list[str]:
        names = [n.name for n in self.pipeline.nodes]
        before = {n: {e.source_node for e in self.pipeline.edges if e.target_node == n} for n in names}
        done: list[str] = []
        while len(done) < len(names):
            ready = [n for n in names if n not in done and before[n] <= set(done)]
            assert ready, "the edges form a cycle"
            done += ready
        return done

    def run(self) -> None:
        for name in self.order():
            if self.failed:
                return
            node = self.pipeline.node_map[name]
            step = self.steps[node.step]
            values = dict(step.get_parameter_defaults())
            for param in self.pipeline.parameters:
                for target in param.targets:
                    target_node, _, key = target.split(".", 2)
                    if target_node == name:
                        values[key] = self.values.get(param.name, param.default)
            legs: list[dict[str, Any]] = [values]
            for edge in self.pipeline.edges:
                if edge.target_node == name and edge.source_type == "metadata":
                    items = self.metadata[edge.source_node][edge.source_key]
                    assert node.type == "task", "a list of values fans out only into a task node"
                    legs = [{**values, edge.target_key: item} for item in items]
            self.outputs[name] = []
            self.metadata[name] = {}
            with ThreadPoolExecutor(max(1, len(legs))) as pool:  # a task's executions run side by side
                list(pool.map(self.execute, [name] * len(legs), [step] * len(legs), legs, range(len(legs))))
            self.outputs[name].sort()
            self.executions[name] = len(legs)

    def execute(self, name: str, step: Any, values: dict[str, Any], index: int) -> None:
        root = self.work / name / str(index)
        workspace, inputs, outputs = root / "repository", root / "inputs", root / "outputs"
        shutil.copytree(self.checkout, workspace)
        outputs.mkdir()
        for edge in self.pipeline.edges:
            if edge.target_node == name and edge.source_type == "output":
                folder = inputs / edge.target_key
                folder.mkdir(parents=True, exist_ok=True)
                for file in self.outputs[edge.source_node]:
                    shutil.copy2(file, folder / file.name)
        commands = [c for c in step.build_command(values) if not c.startswith("pip install")]
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            **{v.name: str(v.default) for v in step.environment_variables.values()},
            "VH_INPUTS_DIR": str(inputs),
            "VH_OUTPUTS_DIR": str(outputs),
        }
        done = subprocess.run(
            ["bash", "-c", " && ".join(commands)], cwd=workspace, env=env, capture_output=True, text=True, timeout=120
        )
        with self.lock:
            if done.returncode != 0:  # on-error stop-all: the pipeline stops after this node
                self.failed.append(name)
            self.logs[name] = self.logs.get(name, "") + done.stdout + done.stderr
            for line in done.stdout.splitlines():
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    self.metadata[name].update(data)
            self.outputs[name] += sorted(p for p in outputs.rglob("*") if p.is_file())


def run_pipeline(
    path: Path, flow_files: dict[str, Path], values: dict[str, Any], tmp: Path, pipeline_name: str | None = None
) -> tuple[Pipeline, Any]:
    from stepc.frontend import load

    runner = Pipeline(path.read_text(encoding="utf-8"), checkout(tmp, flow_files), tmp / "work", values)
    runner.run()
    store_root = tmp / "final-store"
    store_root.mkdir()
    for files in runner.outputs.values():
        for file in files:
            with tarfile.open(file) as tar:
                tar.extractall(store_root, filter="data")
    (flow,) = flow_files.values()
    pipeline, _ = load(str(flow), pipeline_name)
    return runner, stored(pipeline, Store(store_root), RUN_ID)


GOLDEN_FLOWS = {f"golden/{p.name}": p for p in GOLDEN.glob("*.py")}
CASES = [
    ("iris-training.valohai.yaml", "iris_training.py", {}, {}),
    (
        "etl-branches.valohai.yaml",
        "etl_branches.py",
        {"mode": "quick", "sample_every": 4},
        {"mode": "quick", "sample_every": 4},
    ),
    (
        "feature-tour.valohai.yaml",
        "features.py",
        {"publish": False, "regions": '["eu", "us", "apac"]', "scale": 2.5},
        {"publish": False, "regions": ["eu", "us", "apac"], "scale": 2.5},
    ),
    ("ModelSelectionFlow.valohai.yaml", "model_selection.py", {"threshold": 0.1}, {"threshold": 0.1}),
    ("ChainFlow.valohai.yaml", "foreach_chain.py", {"offset": 5}, {"offset": 5}),
    ("gated-release.valohai.yaml", "gated_release.py", {"noise": 1.5}, {"noise": 1.5}),
]


@pytest.mark.parametrize(("name", "flow", "values", "params"), CASES, ids=lambda v: str(v)[:40])
def test_nodes_leave_the_artifacts_stepc_run_leaves(
    name: str, flow: str, values: dict[str, Any], params: dict[str, Any], tmp_path: Path
) -> None:
    runner, found = run_pipeline(COMPILED / name, {f"golden/{flow}": GOLDEN / flow}, values, tmp_path)
    assert not runner.failed, runner.logs
    assert comparable(found) == comparable(reference(REPO / "golden" / flow, params, tmp_path))
    if flow == "features.py":
        regions = json.loads(values.get("regions", '["eu", "us"]'))
        assert runner.executions["by_region"] == len(regions)  # a task node, one execution per item
        assert runner.executions["count"] == runner.executions["double"] == 3


SWITCH = "tests/flows/conditions/switch.py"


@pytest.mark.parametrize(("choice", "fail_fit"), [("train", True), ("report", False)])
def test_a_switch_on_a_computed_value_runs_as_stepc_run_does(tmp_path: Path, choice: str, fail_fit: bool) -> None:
    """Valohai cannot skip a node by a value: both branch nodes start, and the `stepc exec` of
    the one not taken reads route's value from its input archive and records a skip; end merges
    `result` from the branch that ran (the same input name from two producer nodes); a failing
    fit retries in its node and @catch lets the run go on."""
    compiled = tmp_path / "valohai.yaml"
    subprocess.run(
        [sys.executable, "-m", "stepc", "compile", SWITCH, "--target", "valohai", "-o", "-"],
        cwd=REPO, check=True, stdout=compiled.open("w", encoding="utf-8"),
    )  # fmt: skip
    params = {"choice": choice, "fail_fit": fail_fit}
    runner, found = run_pipeline(compiled, {SWITCH: REPO / SWITCH}, params, tmp_path)
    assert not runner.failed, runner.logs
    expected = reference(REPO / SWITCH, params, tmp_path)
    for results in (found, expected):  # an exception compares by identity: compare its text
        if "fit_error" in results["fit"][1]:
            results["fit"][1]["fit_error"] = repr(results["fit"][1]["fit_error"])
    assert comparable(found) == comparable(expected)
    other = "describe" if choice == "train" else "fit"
    assert runner.executions[other] == 1 and found[other][0] == "skipped"  # exec decided
    result = None if fail_fit else (2.0 if choice == "train" else 3)
    assert found["end"][1]["summary"] == {"mode": choice, "result": result}


def run_like_stepc_run(
    name: str, tmp_path: Path, pipeline: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Compile the flow ``name`` (under tests/flows/, default: an oracle flow) with no T101, run
    the pipeline, and check it leaves what `stepc run` leaves."""
    relative = name if "/" in name else f"metaflow/{name}"
    flow = REPO / "tests" / "flows" / relative
    out = tmp_path / "compiled"
    chosen = ["--pipeline", pipeline] if pipeline else []
    compiled = subprocess.run(
        [sys.executable, "-m", "stepc", "compile", str(flow), "--target", "valohai", "-o", str(out), *chosen],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    # The simulator runs each execution here, not in its image: the default image's warning is moot.
    partial = [line for line in compiled.stderr.splitlines() if "T101" in line and "default image" not in line]
    assert compiled.returncode == 0 and not partial, compiled.stderr
    (config,) = out.glob("*.valohai.yaml")
    files = {f"tests/flows/{relative}": flow}
    runner, found = run_pipeline(config, files, values or {}, tmp_path / "run", pipeline)
    assert not runner.failed, runner.logs
    assert comparable(found) == comparable(reference(flow, values or {}, tmp_path, pipeline))
    return found


def test_branches_inside_a_foreach_run_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("foreach_split.py", tmp_path)
    assert found["end"][1]["summary"] == {"pairs": [(6, 1), (13, 1), (18, 1)], "bases": [3, 6, 8]}


def test_a_switch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("foreach_switch.py", tmp_path)
    assert found["shrink"] == ("succeeded", {"result": [4, 5]})  # items 1 and 3 only
    rows = [(0, "small", 9), (1, "big", 4), (2, "small", 3), (3, "big", 5)]
    assert [tuple(r) for r in found["end"][1]["summary"]["rows"]] == rows


# Nested foreach: a lister node's control line, as metadata, feeds the index paths to the task node.
NESTED_TABLE = [("g0", [20, 41]), ("g1", [60]), ("g2", [80, 101, 122])]  # scale 2


def test_a_nested_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("nested_foreach.py", tmp_path, values={"scale": 2})
    assert found["inner"][1]["value"] == [20, 41, 60, 80, 101, 122]  # one execution per index path
    assert [(label, values) for label, values in found["end"][1]["summary"]["table"]] == NESTED_TABLE


def test_a_foreach_inside_a_branch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("foreach_branch_foreach.py", tmp_path)
    assert len(found["letter"][1]["code"]) == 5


def test_the_function_dialects_nested_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("scopes/functions.py", tmp_path, "nested", {"scale": 2})
    assert [tuple(row) for row in found["nest_end"][1]["summary"]["table"]] == NESTED_TABLE


def test_the_function_dialects_foreach_inside_a_branch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("scopes/functions.py", tmp_path, "branch_foreach")
    assert [size for size, _ in found["bf_end"][1]["summary"]["entries"]] == [200, 301]
