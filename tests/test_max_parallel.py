"""Bounded fan-out: ``max_parallel=`` on a foreach step and on the pipeline, the project's
defaults, what each target writes (checked by the engines' own validators) and what `stepc run`
does: items that record when they ran never overlap beyond the bound."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from stepc.backends.argo_lint import lint_documents
from valohai_yaml.lint import lint

from tests.argo_models import hera_errors, sdk_errors
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import stepc
from tests.test_gha import validate

# One item of a fan-out: sleeps, then records its own start and end (seconds) in a file.
RECORDING = """
import json, os, time
from stepc import current, pipeline, step

def record(what, log):
    start = time.time()
    time.sleep(0.3)
    name = what + "-" + (current.item or "").replace("/", "_")
    with open(os.path.join(log, name + ".json"), "w") as f:
        json.dump({"start": start, "end": time.time()}, f)
"""


def write_flow(tmp_path: Path, body: str, pyproject: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n" + pyproject, encoding="utf-8")
    flow = tmp_path / "flow.py"
    flow.write_text(textwrap.dedent(body), encoding="utf-8")
    return flow


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (an end before a start at the same time)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    now = best = 0
    for _, change in events:
        now += change
        best = max(best, now)
    return best


def spans(log: Path, prefix: str) -> list[tuple[float, float]]:
    found = []
    for path in sorted(log.glob(prefix + "*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append((data["start"], data["end"]))
    return found


# --- the front end ----------------------------------------------------------------------------

BOUNDED = """
    from stepc import pipeline, step

    @step(outputs=["xs"])
    def make():
        return [1, 2, 3]

    @step(inputs=["xs"], outputs=["ys"], foreach="xs", max_parallel=2)
    def work(xs):
        return xs

    @step(inputs=["ys"], outputs=["zs"], foreach="ys")
    def again(ys):
        return ys

    @step(inputs=["zs"], outputs=["total"])
    def total(zs):
        return sum(zs)

    pipeline("bounded", steps=[make, work, again, total], max_parallel=3)
"""


def ir(flow: Path) -> dict[str, Any]:
    result = stepc("ir", str(flow))
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_ir_holds_the_bounds_the_flow_sets(tmp_path: Path) -> None:
    data = ir(write_flow(tmp_path, BOUNDED))
    assert data["max_parallel"] == 3
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["work"]["max_parallel"] == 2
    # a chained map runs in work's fan-out: the bound is the scope's, said once at its head
    assert "max_parallel" not in steps["again"] and "max_parallel" not in steps["total"]


def test_without_a_bound_the_ir_is_unchanged(tmp_path: Path) -> None:
    data = ir(write_flow(tmp_path, BOUNDED.replace(", max_parallel=2", "").replace(", max_parallel=3", "")))
    assert "max_parallel" not in data
    assert all("max_parallel" not in s for s in data["steps"])


def test_the_project_sets_the_defaults(tmp_path: Path) -> None:
    body = BOUNDED.replace(", max_parallel=2", "").replace(", max_parallel=3", "")
    pyproject = "[tool.stepc]\nforeach_max_parallel = 5\nmax_parallel = 7\n"
    data = ir(write_flow(tmp_path, body, pyproject))
    assert data["max_parallel"] == 7
    assert {s["name"]: s.get("max_parallel") for s in data["steps"]} == {
        "make": None, "work": 5, "again": None, "total": None
    }  # fmt: skip
    # the flow's own bounds win over the project's
    data = ir(write_flow(tmp_path, BOUNDED, pyproject))
    assert data["max_parallel"] == 3
    assert next(s for s in data["steps"] if s["name"] == "work")["max_parallel"] == 2


def check(flow: Path) -> str:
    result = stepc("check", str(flow), cwd=flow.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("max_parallel=2)", "max_parallel=0)", "flow.py:8:65: error[S114]: max_parallel must be at least 1 (got 0)"),
        ("max_parallel=2)", 'max_parallel="2")', "flow.py:8:65: error[S103]: max_parallel must be a whole number"),
        ("max_parallel=2)", "max_parallel=2.5)", "flow.py:8:65: error[S103]: max_parallel must be a whole number"),
        ("max_parallel=3)", "max_parallel=-1)", "flow.py:20:68: error[S114]: max_parallel must be at least 1"),
        (
            'foreach="ys")',
            'foreach="ys", max_parallel=4)',
            "flow.py:12:65: error[S103]: step 'again' runs in the fan-out of 'work' (a chained map runs once per "
            "item of it): set max_parallel on 'work'",
        ),
        (
            'outputs=["total"])',
            'outputs=["total"], max_parallel=4)',
            "flow.py:16:54: error[S103]: max_parallel bounds a fan-out, but step 'total' has no foreach",
        ),
    ],
)
def test_a_bad_bound_is_a_diagnostic_at_its_place(tmp_path: Path, old: str, new: str, where: str) -> None:
    assert old in BOUNDED
    out = check(write_flow(tmp_path, BOUNDED.replace(old, new, 1)))
    assert where in out, out


@pytest.mark.parametrize("value", ["0", "true", '"many"'])
def test_a_bad_project_default_is_t103_at_its_line(tmp_path: Path, value: str) -> None:
    flow = write_flow(tmp_path, BOUNDED, f"[tool.stepc]\nimage = 'python:3.12'\nforeach_max_parallel = {value}\n")
    out = check(flow)
    assert "pyproject.toml:5:1: error[T103]: setting 'foreach_max_parallel' in [tool.stepc] is a whole number" in out


# --- the targets ------------------------------------------------------------------------------

NESTED = """
    from stepc import pipeline, step

    @step(outputs=["groups"])
    def make():
        return [[1, 2], [3, 4, 5]]

    @step(inputs=["groups"], outputs=["members"], foreach="groups", max_parallel=2)
    def outer(groups):
        return groups

    @step(inputs=["members"], outputs=["value"], foreach="members", nested=True, max_parallel=3)
    def inner(members):
        return members * 10

    @step(outputs=["copy"], foreach="names")
    def plain(names: list = ["a", "b"]):
        return names

    pipeline("nested", steps=[make, outer, inner, plain], max_parallel=4)
"""


def compiled(flow: Path, target: str) -> tuple[str, str]:
    result = stepc("compile", str(flow), "--target", target, "-o", "-", cwd=flow.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, result.stderr


def test_argo_bounds_each_fan_out_in_a_template_of_its_own_and_the_run(tmp_path: Path) -> None:
    text, _ = compiled(write_flow(tmp_path, NESTED), "argo")
    [workflow] = [d for d in yaml.safe_load_all(text) if d]
    for version in VERSIONS:
        assert validation_errors(workflow, version) == []
    assert sdk_errors(workflow) == [] and hera_errors(workflow) == []
    assert lint_documents(text) == []
    assert workflow["spec"]["parallelism"] == 4
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    bounded = {name: t["parallelism"] for name, t in templates.items() if "parallelism" in t}
    # outer's, inner's (inside each outer item) and the list parameter's default of 100
    assert bounded == {"fanout-outer": 2, "fanout-inner": 3, "fanout-plain": 100}
    # each holds one task: the loop over the items its caller hands it, and nothing else
    for name in bounded:
        [task] = templates[name]["dag"]["tasks"]
        assert task["template"] == name.replace("fanout-", "scope-")
        assert "withParam" in task or "withSequence" in task
    main = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    call = main["scope-outer"]
    assert call["template"] == "fanout-outer" and "withParam" not in call
    assert call["arguments"]["parameters"] == [
        {"name": "items", "value": "{{tasks.make.outputs.parameters.items-groups}}"}
    ]
    # the inner fan-out runs per outer item: its template gets that item and the inner list
    inner_call = next(t for t in templates["scope-outer"]["dag"]["tasks"] if t["template"] == "fanout-inner")
    assert {p["name"] for p in inner_call["arguments"]["parameters"]} == {"item", "items"}
    [loop] = templates["fanout-inner"]["dag"]["tasks"]
    assert loop["arguments"]["parameters"] == [{"name": "item", "value": "{{inputs.parameters.item}}/{{item}}"}]


def test_airflow_bounds_the_mapped_tasks_and_the_run(tmp_path: Path) -> None:
    text, _ = compiled(write_flow(tmp_path, NESTED), "airflow")
    compile(text, "nested_dag.py", "exec")  # valid Python
    assert text.count("    max_active_tasks=4,\n") == 1
    bounds = [line.strip() for line in text.splitlines() if "max_active_tis_per_dagrun" in line]
    # outer: 2; inner, in both scopes: the tighter of 2 and 3; plain: the default
    assert sorted(bounds) == sorted(
        ["max_active_tis_per_dagrun=2,", "max_active_tis_per_dagrun=2,", "max_active_tis_per_dagrun=100,"]
    )


def test_github_bounds_each_matrix(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, NESTED)
    out = tmp_path / "out"
    result = stepc("compile", str(flow), "--target", "gha", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # the run's bound is kept matrix by matrix only: said as a T101 warning
    assert "warning[T101]: pipeline 'nested' has a bound on a run's tasks at once" in result.stdout + result.stderr
    [path] = list(out.rglob("*.yml"))
    validate(path)
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    limits = {name: job["strategy"].get("max-parallel") for name, job in jobs.items() if "strategy" in job}
    assert limits == {"outer": 2, "inner": 2, "plain": 4}


def test_valohai_says_it_cannot_bound_and_stays_valid(tmp_path: Path) -> None:
    text, err = compiled(write_flow(tmp_path, NESTED), "valohai")
    assert lint(text).messages == []
    assert "warning[T101]: step 'outer' (and 1 more) uses a bound on a fan-out's items at once" in err
    assert "warning[T101]: pipeline 'nested' has a bound on a run's tasks at once" in err
    strict = stepc("compile", "flow.py", "--target", "valohai", "-o", "-", "--strict", cwd=tmp_path)
    assert strict.returncode == 1 and strict.stdout == ""


# --- stepc run --------------------------------------------------------------------------------


def run(flow: Path, *args: str) -> None:
    result = stepc("run", str(flow), "--store", str(flow.parent / "store"), "--quiet", *args, cwd=flow.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stepc_run_keeps_a_fan_out_at_its_bound(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    flow = write_flow(
        tmp_path,
        RECORDING
        + f"""
@step(outputs=["xs"])
def make():
    return list(range(8))

@step(inputs=["xs"], outputs=["ys"], foreach="xs", max_parallel=2)
def work(xs, log: str = {str(log)!r}):
    record("work", log)
    return xs

@step(outputs=["zs"], foreach="names")
def other(names: list = ["a", "b", "c", "d", "e", "f"], log: str = {str(log)!r}):
    record("other", log)
    return names
""",
    )
    run(flow, "--workers", "8")
    work, other = spans(log, "work-"), spans(log, "other-")
    assert len(work) == 8 and len(other) == 6
    assert most_at_once(work) == 2  # never more, and the bound was reached
    assert most_at_once(other) > 2  # the other fan-out was not held back by work's bound


def test_stepc_run_counts_an_item_of_an_outer_fan_out_once(tmp_path: Path) -> None:
    """Nested: at most 2 outer items in flight, each with its inner tasks; per outer item at
    most 2 inner items at once."""
    log = tmp_path / "log"
    log.mkdir()
    flow = write_flow(
        tmp_path,
        RECORDING
        + f"""
@step(outputs=["groups"])
def make():
    return [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]

@step(inputs=["groups"], outputs=["members"], foreach="groups", max_parallel=2)
def outer(groups):
    return groups

@step(inputs=["members"], outputs=["value"], foreach="members", nested=True, max_parallel=2)
def inner(members, log: str = {str(log)!r}):
    record("inner", log)
    return members
""",
    )
    run(flow, "--workers", "8")
    inner = spans(log, "inner-")
    assert len(inner) == 12
    assert most_at_once(inner) <= 4
    groups: dict[str, list[tuple[float, float]]] = {}
    for path, span in zip(sorted(log.glob("inner-*.json")), inner, strict=True):
        groups.setdefault(path.stem.split("-")[1].split("_")[0], []).append(span)
    assert all(most_at_once(s) <= 2 for s in groups.values())
    # at no instant do more than 2 outer items have inner tasks running
    bounds = {g: (min(s for s, _ in v), max(e for _, e in v)) for g, v in groups.items()}
    for g, spans_of_group in groups.items():
        for start, _ in spans_of_group:
            busy = {h for h, others in groups.items() if any(s <= start < e for s, e in others)}
            assert len(busy) <= 2, (g, busy, bounds)


def test_stepc_run_keeps_the_whole_run_at_the_pipeline_bound(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    flow = write_flow(
        tmp_path,
        RECORDING
        + f"""
@step(outputs=["a"], foreach="names")
def left(names: list = ["a", "b", "c", "d"], log: str = {str(log)!r}):
    record("run-left", log)
    return names

@step(outputs=["b"], foreach="others")
def right(others: list = ["e", "f", "g", "h"], log: str = {str(log)!r}):
    record("run-right", log)
    return others

pipeline("bounded", steps=[left, right], max_parallel=3)
""",
    )
    run(flow, "--workers", "8")
    found = spans(log, "run-")
    assert len(found) == 8
    assert most_at_once(found) == 3


def test_the_class_dialect_takes_the_bound_from_the_project(tmp_path: Path) -> None:
    """A Metaflow flow sets no stepc argument: ``[tool.stepc] foreach_max_parallel`` bounds its
    foreach, over every step of the chain each item runs (first, then second)."""
    log = tmp_path / "log"
    log.mkdir()
    flow = write_flow(
        tmp_path,
        f"""
        import json, os, time
        from metaflow import FlowSpec, step

        LOG = {str(log)!r}

        def record(what, index):
            start = time.time()
            time.sleep(0.3)
            with open(os.path.join(LOG, what + "-" + str(index) + ".json"), "w") as f:
                json.dump({{"start": start, "end": time.time()}}, f)

        class BoundedFlow(FlowSpec):
            @step
            def start(self):
                self.items = list(range(6))
                self.next(self.first, foreach="items")

            @step
            def first(self):
                record("first", self.index)
                self.next(self.second)

            @step
            def second(self):
                record("second", self.index)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
        "[tool.stepc]\nforeach_max_parallel = 2\n",
    )
    assert next(s for s in ir(flow)["steps"] if s["name"] == "first")["max_parallel"] == 2
    run(flow, "--workers", "8")
    items: dict[str, list[tuple[float, float]]] = {}
    for path in sorted(log.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items.setdefault(path.stem.split("-")[1], []).append((data["start"], data["end"]))
    assert len(items) == 6 and all(len(v) == 2 for v in items.values())
    # at no moment do more than 2 items have a task running, over both steps of the chain
    assert most_at_once([span for v in items.values() for span in v]) == 2
