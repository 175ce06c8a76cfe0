"""Metaflow as the oracle for the class dialect.

Every flow under tests/flows/metaflow/ is real Metaflow (``from metaflow import ...``). Each case
runs it twice: with Metaflow itself (local datastore and metadata in a temp dir, a throwaway
HOME, no network) and with ``stepc run``. The artifacts the ``end`` step sets must be equal, types
included; so must the set of steps that ran and how many attempts each task took. A run Metaflow
fails must fail under stepc at the same step. ``stepc check`` and ``stepc compile --target all``
must accept every oracle flow.

Metaflow runs are slow (every task is a subprocess), so each case runs once per session, all
cases in parallel.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, stepc

FLOWS = Path(__file__).resolve().parent / "flows" / "metaflow"
# Both engines spawn a process per task: a few cases at a time keeps two cores busy without
# letting one slow case stall the rest.
PARALLEL = 4
RUN_TIMEOUT = 300
# Under pytest-xdist with --dist loadgroup, keep this module on one worker: the session fixture
# would otherwise run every Metaflow flow once per worker.
pytestmark = pytest.mark.xdist_group("metaflow_oracle")


@dataclass(frozen=True)
class Case:
    """One flow run with one set of parameters under both engines."""

    id: str
    file: str
    flow: str  # the FlowSpec subclass (Metaflow's flow name)
    own: tuple[str, ...]  # the artifacts the end step itself sets: compared one by one
    params: tuple[tuple[str, str], ...] = ()  # name, value as typed on a command line
    marker: bool = False  # pass a fresh path as the 'marker' parameter (fail-once steps)
    inherited: tuple[str, ...] = field(default=())  # end artifacts set upstream, compared too
    fails_at: str | None = None  # the run must fail, at this step, under both engines
    end_step: str = "end"  # the flow's last step (Metaflow 2.19's @step(end=True) names it)

    @property
    def path(self) -> Path:
        return FLOWS / self.file


INCLUDED = str(FLOWS / "include_data.csv")
BRANCH_ARTIFACTS = ("summary", "merged_seen", "presence", "dynamic")
CASES: tuple[Case, ...] = (
    Case("branches", "branches.py", "BranchFlow", BRANCH_ARTIFACTS),
    Case("branches-scale", "branches.py", "BranchFlow", BRANCH_ARTIFACTS, (("scale", "4"),)),
    Case("foreach", "foreach.py", "ForeachFlow", ("summary",), inherited=("labels", "stacks", "total", "items")),
    Case("foreach-n4", "foreach.py", "ForeachFlow", ("summary",), (("n", "4"), ("offset", "1.25"))),
    Case("foreach-branches", "foreach_branches.py", "ForeachBranchesFlow", ("summary",)),
    Case("foreach-chain", "foreach_chain.py", "ChainFlow", ("summary",), (("offset", "5"),)),
    # Foreach scopes holding any sub-DAG: a foreach in a foreach (foreach_stack() with both
    # levels), a switch and static branches inside a foreach, a foreach in a branch in a foreach.
    Case("nested-foreach", "nested_foreach.py", "NestedForeachFlow", ("summary",)),
    Case("nested-foreach-scale", "nested_foreach.py", "NestedForeachFlow", ("summary",), (("scale", "3"),)),
    Case("foreach-switch", "foreach_switch.py", "ForeachSwitchFlow", ("summary",)),
    Case("foreach-split", "foreach_split.py", "ForeachSplitFlow", ("summary",)),
    Case("foreach-branch-foreach", "foreach_branch_foreach.py", "ForeachBranchForeachFlow", ("summary",)),
    Case("switch-fast", "switch_param.py", "SwitchParamFlow", ("summary",), (("mode", "fast"),)),
    Case("switch-slow", "switch_param.py", "SwitchParamFlow", ("summary",), (("mode", "slow"),)),
    Case("switch-keys-odd", "switch_keys.py", "SwitchKeysFlow", ("summary",), (("n", "3"),)),
    Case("switch-keys-even", "switch_keys.py", "SwitchKeysFlow", ("summary",), (("n", "2"),)),
    Case("switch-big", "switch_computed.py", "SwitchComputedFlow", ("summary",), (("threshold", "1"),)),
    Case("switch-small", "switch_computed.py", "SwitchComputedFlow", ("summary",), (("threshold", "100"),)),
    Case(
        "retry-catch",
        "retry_catch.py",
        "RetryCatchFlow",
        ("summary", "last_err", "value_via_getattr"),
        marker=True,
    ),
    Case("inherit", "inherit.py", "InheritFlow", ("summary",), inherited=("history", "counter", "label", "flags")),
    Case("flow-name", "flow_name.py", "FlowNameFlow", ("summary",)),
    Case(
        "inherit-params",
        "inherit.py",
        "InheritFlow",
        ("summary",),
        (("name_prefix", "x"), ("count", "3"), ("ratio", "1"), ("verbose", "true")),
    ),
    # Parameters as real flows declare them, IncludeFile, metaflow.current, @step(start/end=True).
    Case("parameters", "parameters.py", "ParametersFlow", ("summary",)),
    Case(
        "parameters-given",
        "parameters.py",
        "ParametersFlow",
        ("summary",),
        (("creature", "cat"), ("config", '{"depth": 3, "names": []}'), ("colors", "x,y,z"), ("run-mode", "slow")),
    ),
    Case("include-file", "include_file.py", "IncludeFileFlow", ("summary",), (("data", INCLUDED), ("raw", INCLUDED))),
    Case("current", "current_fields.py", "CurrentFieldsFlow", ("summary",), marker=True),
    Case("start-end", "start_end.py", "StartEndFlow", ("summary",), (("n", "4"),), end_step="finish"),
    # A recursive switch: three passes of one step, each a task reading the last one's attributes.
    Case("recursive-switch", "recursive_switch.py", "RecursiveSwitchFlow", ("summary",), inherited=("count", "case")),
    Case("recursive-switch-once", "recursive_switch.py", "RecursiveSwitchFlow", ("summary",), (("limit", "1"),)),
    # Configs: a JSON file, literal and plain values, in decorators, a parameter's default and steps.
    Case("configs", "configs.py", "ConfigsFlow", ("summary",)),
    Case("configs-alpha", "configs.py", "ConfigsFlow", ("summary",), (("alpha", "0.25"),)),
)
# A run that must fail: compared by where it fails, not by artifacts.
FAILING: tuple[Case, ...] = (
    Case("merge-conflict", "merge_conflict.py", "MergeConflictFlow", (), fails_at="join"),
    Case("retries-exhausted", "always_fails.py", "AlwaysFailsFlow", (), fails_at="doomed"),
    Case("switch-no-case", "switch_param.py", "SwitchParamFlow", (), (("mode", "medium"),), fails_at="start"),
    Case("foreach-empty", "foreach.py", "ForeachFlow", (), (("n", "0"),), fails_at="start"),
)
ORACLE_FILES = sorted({c.file for c in (*CASES, *FAILING)})


def cases(selected: tuple[Case, ...] | list[Case]) -> list[Any]:
    """pytest params named by case id. A case stepc gets wrong may only be marked here with
    xfail(strict=True, reason=<the bug, precisely>), never skipped."""
    return [pytest.param(c, id=c.id) for c in selected]


@dataclass
class Outcome:
    """What one engine made of one case."""

    returncode: int
    log: str  # stdout and stderr, for failure messages
    end: dict[str, Any] | None = None  # the end step's artifacts, normalised
    tasks: dict[str, list[int]] | None = None  # step -> attempts each of its tasks took
    marker_exists: bool | None = None
    inherited: dict[str, Any] = field(default_factory=dict)  # stepc: end's inputs, from producers
    failed: list[str] = field(default_factory=list)  # steps with a task that failed for good


# --- normalising values so both engines' results compare --------------------------------------


def _exception(type_name: str, message: str) -> tuple[str, str, str]:
    # Metaflow stores a caught exception as a MetaflowExceptionWrapper (dotted type name, message,
    # traceback); stepc may store the exception itself. What both can honestly agree on is the
    # exception's class name and its message.
    return ("<exception>", type_name.rsplit(".", 1)[-1], message)


def normalise(value: Any) -> Any:
    """Caught exceptions to (marker, class name, message); containers recursively, types kept."""
    if isinstance(value, BaseException) and hasattr(value, "type") and hasattr(value, "exception"):
        # A wrapper like Metaflow's (stepc's ExceptionWrapper): the wrapped exception's type.
        wrapper: Any = value
        return _exception(str(wrapper.type), str(wrapper.exception))
    if isinstance(value, BaseException):
        return _exception(type(value).__qualname__, str(value))
    if type(value) is dict:
        return {k: normalise(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(normalise(v) for v in value)
    return value


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so 1 == 1.0 == True no longer holds."""
    if type(value) is dict:
        return ("dict", sorted((repr(k), typed(v)) for k, v in value.items()))
    if type(value) in (list, tuple, set, frozenset):
        items = [typed(v) for v in value]
        return (type(value).__name__, sorted(items, key=repr) if isinstance(value, set | frozenset) else items)
    return (type(value).__name__, value)


# --- Metaflow -------------------------------------------------------------------------------

# Runs in a subprocess with the run's environment, so importing metaflow reads nothing from the
# real home. Writes a pickle of plain values only (exceptions normalised here).
_READER = """
import pickle, sys
from metaflow import Run, namespace
from metaflow.exception import MetaflowExceptionWrapper
namespace(None)
flow, run_id, out, last = sys.argv[1:5]
run = Run(flow + "/" + run_id)

def plain(v):
    if isinstance(v, MetaflowExceptionWrapper):
        return ("<exception>", v.type.rsplit(".", 1)[-1], v.exception)
    if type(v) is dict:
        return {k: plain(x) for k, x in v.items()}
    if type(v) in (list, tuple):
        return type(v)(plain(x) for x in v)
    return v

steps = {s.id: s for s in run}
end = {a.id: plain(a.data) for a in steps[last].task.artifacts} if last in steps else None
tasks = {name: sorted(t.current_attempt + 1 for t in s) for name, s in steps.items()}
failed = sorted({name for name, s in steps.items() for t in s if not t.successful})
with open(out, "wb") as f:
    pickle.dump({"successful": run.successful, "end": end, "tasks": tasks, "failed": failed}, f)
"""


def metaflow_env(root: Path) -> dict[str, str]:
    """Local datastore and metadata under ``root``, a throwaway HOME: nothing outside root."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(
        HOME=str(home),
        USERNAME="stepc-oracle",
        USER="stepc-oracle",
        METAFLOW_HOME=str(root / "metaflow-home"),
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(root / "datastore"),
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_DEFAULT_METADATA="local",
        METAFLOW_DEFAULT_ENVIRONMENT="local",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_metaflow(case: Case, root: Path) -> Outcome:
    root.mkdir(parents=True)
    env = metaflow_env(root)
    params = list(case.params)
    marker = root / "marker"
    if case.marker:
        params.append(("marker", str(marker)))
    run_id_file = root / "run-id"
    cmd = [sys.executable, str(case.path), "--no-pylint", "--quiet", "--datastore=local", "--metadata=local", "run"]
    cmd += ["--run-id-file", str(run_id_file), "--max-workers", "4"]
    for name, value in params:
        cmd += [f"--{name}", value]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    log = f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    if not run_id_file.exists():  # the run did not even start
        return Outcome(proc.returncode or 1, log)
    out = root / "artifacts.pkl"
    read = subprocess.run(
        [sys.executable, "-c", _READER, case.flow, run_id_file.read_text().strip(), str(out), case.end_step],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if read.returncode != 0:
        return Outcome(read.returncode, f"{log}\nreading the run failed:\n{read.stderr}")
    with open(out, "rb") as f:
        data = pickle.load(f)
    if proc.returncode != 0 or not data["successful"]:
        return Outcome(proc.returncode or 1, log, tasks=data["tasks"], failed=data["failed"])
    return Outcome(0, log, data["end"], data["tasks"], marker.exists() if case.marker else None)


# --- stepc ----------------------------------------------------------------------------------


def run_stepc(case: Case, root: Path) -> Outcome:
    from stepc.runtime.store import Store

    root.mkdir(parents=True)
    store = root / "store"
    params = list(case.params)
    marker = root / "marker"
    if case.marker:
        params.append(("marker", str(marker)))
    args = ["run", str(case.path), "--store", str(store), "-q"]
    for name, value in params:
        args += ["-p", f"{name}={value}"]
    proc = subprocess.run(
        [sys.executable, "-m", "stepc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    log = f"$ stepc {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    runs = sorted(p.name for p in (store / "runs").iterdir() if p.is_dir()) if (store / "runs").is_dir() else []
    if proc.returncode != 0 and not runs:
        return Outcome(proc.returncode, log)
    assert len(runs) == 1, f"one run expected in a fresh store, found {runs}"
    run_id = runs[0]
    the_store = Store(store)
    if proc.returncode != 0:
        return Outcome(proc.returncode, log, tasks=_tasks(the_store, run_id), failed=_failed_steps(the_store, run_id))
    # A pickled value may name a class of the flow's module; its folder makes it importable.
    if str(FLOWS) not in sys.path:
        sys.path.insert(0, str(FLOWS))
    end_results = the_store.committed(run_id, case.end_step)
    assert len(end_results) == 1, log
    end = {meta.name: normalise(the_store.read_artifact(meta)) for meta in end_results[0].outputs}
    inherited = _inherited(case, the_store, run_id)
    return Outcome(0, log, end, _tasks(the_store, run_id), marker.exists() if case.marker else None, inherited)


def _tasks(the_store: Any, run_id: str) -> dict[str, list[int]]:
    """Step -> the number of attempts of each of its tasks (a foreach item is a task), for the
    tasks that started: every attempt leaves a log, a skipped step none."""
    tasks: dict[str, list[int]] = {}
    for step_dir in sorted(p for p in the_store.run_dir(run_id).iterdir() if p.is_dir()):
        folder = step_dir.name
        # One task directory per index path: items/<i>/ in a foreach, items/<i>/<j>/ nested.
        paths = (p.relative_to(step_dir / "items").parts for p in (step_dir / "items").rglob("*") if p.is_dir())
        items = [None, *(tuple(int(i) for i in parts) for parts in paths)]
        counts = [len(the_store.attempt_numbers(run_id, folder, item)) for item in items]
        if any(counts):  # a recursive switch's pass n > 0 is a task of the step in <step>.<n>/
            tasks.setdefault(folder.split(".")[0], []).extend(n for n in counts if n)
    return {step: sorted(counts) for step, counts in tasks.items()}


def _failed_steps(the_store: Any, run_id: str) -> list[str]:
    """Steps with a task whose last recorded attempt failed (a retried success does not count)."""
    failed = set()
    for status in the_store.run_dir(run_id).rglob("status.*.json"):
        task = status.parent
        attempts = sorted(int(p.name.split(".")[1]) for p in task.glob("status.*.json"))
        if (task / "result.json").exists() or status.name != f"status.{attempts[-1]}.json":
            continue
        if json.loads(status.read_text())["status"] == "failed":
            failed.add(json.loads(status.read_text())["step"])
    return sorted(failed)


def _inherited(case: Case, the_store: Any, run_id: str) -> dict[str, Any]:
    """The artifacts end reads but does not set, as the producing step stored them.

    stepc's end keeps only what it sets; an inherited artifact is the output of the step the IR
    names as its producer (a plain value input: a whole list for a gathered foreach output would
    not be what Metaflow's end sees)."""
    proc = stepc("ir", str(case.path))
    if proc.returncode != 0:  # reported by the inherited-artifacts test, not as a fixture crash
        return {}
    end = next(s for s in json.loads(proc.stdout)["steps"] if s["name"] == case.end_step)
    found: dict[str, Any] = {}
    for bound in end["inputs"]:
        if bound["name"] in case.inherited and bound["mode"] == "value":
            (result,) = the_store.committed(run_id, bound["producer"])
            found[bound["name"]] = normalise(the_store.read_artifact(result.output(bound["name"])))
    return found


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def all_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Outcome]]:
    """Every case under both engines, in one pool: Metaflow's slow runs first, stepc's short
    ones fill the gaps."""
    base = tmp_path_factory.mktemp("oracle")
    engines = {"metaflow": run_metaflow, "stepc": run_stepc}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {
            (engine, c.id): pool.submit(runner, c, base / engine / c.id)
            for engine, runner in engines.items()
            for c in (*CASES, *FAILING)
        }
        return {engine: {cid: f.result() for (e, cid), f in futures.items() if e == engine} for engine in engines}


@pytest.fixture(scope="session")
def metaflow_results(all_results: dict[str, dict[str, Outcome]]) -> dict[str, Outcome]:
    return all_results["metaflow"]


@pytest.fixture(scope="session")
def stepc_results(all_results: dict[str, dict[str, Outcome]]) -> dict[str, Outcome]:
    return all_results["stepc"]


def _both(
    case: Case, metaflow_results: dict[str, Outcome], stepc_results: dict[str, Outcome]
) -> tuple[Outcome, Outcome]:
    mf = metaflow_results[case.id]
    assert mf.returncode == 0 and mf.end is not None, f"Metaflow run failed:\n{mf.log}"
    sc = stepc_results[case.id]
    assert sc.returncode == 0 and sc.end is not None, f"stepc run failed:\n{sc.log}"
    return mf, sc


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(CASES))
def test_end_artifacts_match_metaflow(
    case: Case, metaflow_results: dict[str, Outcome], stepc_results: dict[str, Outcome]
) -> None:
    mf, sc = _both(case, metaflow_results, stepc_results)
    assert mf.end is not None and sc.end is not None
    for name in (*case.own, *case.inherited):
        assert name in mf.end, f"the oracle flow does not set {name!r}: fix the case"
    expected = {name: mf.end[name] for name in case.own}
    got = {name: sc.end.get(name, "<not an output of end>") for name in case.own}
    assert got == expected
    assert typed(got) == typed(expected)


@pytest.mark.parametrize("case", cases([c for c in CASES if c.inherited]))
def test_inherited_artifacts_match_metaflow(
    case: Case, metaflow_results: dict[str, Outcome], stepc_results: dict[str, Outcome]
) -> None:
    """Artifacts end did not set but reads: each as its producing step stored it under stepc."""
    mf, sc = _both(case, metaflow_results, stepc_results)
    assert mf.end is not None
    expected = {name: mf.end[name] for name in case.inherited}
    got = {name: sc.inherited.get(name, "<not read by end as a value>") for name in case.inherited}
    assert got == expected
    assert typed(got) == typed(expected)


@pytest.mark.parametrize("case", cases(CASES))
def test_same_steps_and_attempts_as_metaflow(
    case: Case, metaflow_results: dict[str, Outcome], stepc_results: dict[str, Outcome]
) -> None:
    """The steps that ran (a switch runs one case), tasks per step (foreach items) and attempts."""
    mf, sc = _both(case, metaflow_results, stepc_results)
    assert sc.tasks == mf.tasks
    if case.marker:
        # The first attempt of the flaky step created the marker under both engines.
        assert mf.marker_exists and sc.marker_exists


def test_the_oracle_does_what_the_cases_claim(metaflow_results: dict[str, Outcome]) -> None:
    """Guards the oracle itself: the retry and @catch cases exercise what they claim to."""
    mf = metaflow_results["retry-catch"]
    assert mf.end is not None and mf.tasks is not None, mf.log
    assert mf.tasks["flaky"] == [2] and mf.tasks["risky"] == [2] and mf.marker_exists
    assert mf.end["last_err"] == _exception("ValueError", "always fails after 43")
    assert mf.end["summary"]["safe_err"] is None and mf.end["summary"]["value_seen"] == 43
    assert mf.end["value_via_getattr"] == 43
    assert mf.end["summary"]["timed_out"] is True and mf.end["summary"]["before_timeout"]
    assert mf.end["summary"]["flaky_err"] is None and mf.end["summary"]["bare_before"]
    odd, even = metaflow_results["switch-keys-odd"], metaflow_results["switch-keys-even"]
    assert odd.tasks is not None and even.tasks is not None
    assert {"odd", "large"} <= set(odd.tasks) and {"even", "small"} <= set(even.tasks)
    fast, slow = metaflow_results["switch-fast"], metaflow_results["switch-slow"]
    assert fast.tasks is not None and slow.tasks is not None
    assert "fast" in fast.tasks and "slow" not in fast.tasks and "slow" in slow.tasks
    named = metaflow_results["flow-name"]
    assert named.end is not None and named.end["summary"] == {"start": "FlowNameFlow", "end": "FlowNameFlow"}
    for case in FAILING:  # their own tests may be xfail: check here that the oracle fails as designed
        mf = metaflow_results[case.id]
        assert mf.returncode != 0 and mf.failed == [case.fails_at], mf.log
    assert "produced zero splits" in metaflow_results["foreach-empty"].log
    assert metaflow_results["retries-exhausted"].tasks == {"start": [1], "doomed": [3]}
    assert "not in the available cases" in metaflow_results["switch-no-case"].log


@pytest.mark.parametrize("case", cases(FAILING))
def test_failing_run_fails_at_the_same_step_as_metaflow(
    case: Case, metaflow_results: dict[str, Outcome], stepc_results: dict[str, Outcome]
) -> None:
    mf, sc = metaflow_results[case.id], stepc_results[case.id]
    assert mf.returncode != 0 and mf.failed == [case.fails_at], f"the oracle did not fail as designed:\n{mf.log}"
    assert sc.returncode != 0, f"stepc ran a flow Metaflow fails at {case.fails_at!r}:\n{sc.log}"
    assert sc.failed == mf.failed, sc.log
    # The same tasks started, with as many attempts (retries of the failing step included).
    assert sc.tasks == mf.tasks


@pytest.mark.parametrize("file", ORACLE_FILES)
def test_stepc_check_reads_the_metaflow_flow(file: str) -> None:
    r = stepc("check", str(FLOWS / file))
    assert r.returncode == 0, r.stdout + r.stderr
    # W202 means the flow class was passed over, not read.
    assert "W202" not in r.stdout + r.stderr, r.stdout


@pytest.mark.parametrize("file", ORACLE_FILES)
@pytest.mark.parametrize("target", ["argo", "airflow", "gha", "valohai"])
def test_stepc_compiles_the_metaflow_flow(file: str, target: str, tmp_path: Path) -> None:
    """Every target compiles the flow, or refuses it with T101 at the steps that use what its
    capability table lacks (never a silent drop)."""
    from stepc.backends.features import step_features

    from stepc.frontend.load import load
    from stepc.targets import load_target

    pipeline, _ = load(str(FLOWS / file))
    assert pipeline is not None
    features = load_target(target).FEATURES
    missing = sorted({s.name for s in pipeline.steps for f in step_features(pipeline, s) if f not in features})
    r = stepc("compile", str(FLOWS / file), "--target", target, "-o", str(tmp_path), cwd=REPO)
    if not missing:
        assert r.returncode == 0, r.stdout + r.stderr
        assert any(p.is_file() for p in tmp_path.rglob("*")), "compile wrote nothing"
        return
    assert r.returncode == 1 and not any(tmp_path.rglob("*.*")), r.stdout + r.stderr
    refused = sorted({line.split("'")[1] for line in (r.stdout + r.stderr).splitlines() if "error[T101]" in line})
    assert refused == missing


# The function dialect's equivalents of oracle flows (tests/flows/scopes/functions.py), run by
# `stepc run`: same summary as Metaflow's run of the class flow.
FUNCTION_EQUIVALENTS = [
    ("nested-foreach", "nested", {}, "nest_end"),
    ("nested-foreach-scale", "nested", {"scale": 3}, "nest_end"),
    ("foreach-split", "split", {}, "split_end"),
    ("foreach-branch-foreach", "branch_foreach", {}, "bf_end"),
]


@pytest.mark.parametrize(("case_id", "pipeline", "params", "end"), FUNCTION_EQUIVALENTS, ids=lambda v: str(v))
def test_function_dialect_scopes_match_metaflow(
    case_id: str,
    pipeline: str,
    params: dict[str, Any],
    end: str,
    metaflow_results: dict[str, Outcome],
    tmp_path: Path,
) -> None:
    import stepc as api

    mf = metaflow_results[case_id]
    assert mf.returncode == 0 and mf.end is not None, mf.log
    flow = Path(__file__).resolve().parent / "flows" / "scopes" / "functions.py"
    result = api.run(str(flow), params, pipeline=pipeline, store=tmp_path)
    assert result.ok, result.error
    assert normalise(result[end].outputs["summary"]) == mf.end["summary"]
