"""A cached step is a hit the second time, and a miss when its code or its inputs change."""

from __future__ import annotations

from pathlib import Path

import stepc

FLOW = """
from stepc import pipeline, step


def _mark(journal, name):
    with open(journal, "a") as f:
        f.write(name + "\\n")


@step(outputs=["data"])
def source(path: str = "", journal: str = ""):
    with open(path) as f:
        return f.read()


@step(inputs=["data"], outputs=["upper"], cache="input_hash")
def by_input(data, journal: str = ""):
    _mark(journal, "by_input")
    return data.upper()


@step(outputs=["number"], cache="code_hash")
def by_code(journal: str = ""):
    _mark(journal, "by_code")
    return 1


pipeline("cached", steps=[source, by_input, by_code])
"""


def _runs(tmp_path: Path, flow: Path) -> stepc.interpreter.RunResult:
    params = {"path": str(tmp_path / "input.txt"), "journal": str(tmp_path / "journal.txt")}
    result: stepc.interpreter.RunResult = stepc.run(str(flow), params, store=tmp_path / "store", workers=2)
    return result


def _ran(tmp_path: Path) -> list[str]:
    journal = tmp_path / "journal.txt"
    lines = journal.read_text().split() if journal.exists() else []
    journal.write_text("")
    return sorted(lines)


def test_cache_hits_and_misses(tmp_path: Path) -> None:
    flow = tmp_path / "cached_flow.py"
    flow.write_text(FLOW)
    (tmp_path / "input.txt").write_text("hello")

    first = _runs(tmp_path, flow)
    assert first.ok, first.error
    assert _ran(tmp_path) == ["by_code", "by_input"]
    assert not first["by_input"].cached

    second = _runs(tmp_path, flow)
    assert second.ok and _ran(tmp_path) == []
    assert second["by_input"].cached and second["by_code"].cached and not second["source"].cached
    assert second["by_input"].outputs["upper"] == "HELLO"  # restored without running

    (tmp_path / "input.txt").write_text("changed")  # input change: miss for input_hash only
    third = _runs(tmp_path, flow)
    assert _ran(tmp_path) == ["by_input"]
    assert not third["by_input"].cached and third["by_code"].cached
    assert third["by_input"].outputs["upper"] == "CHANGED"

    flow.write_text(FLOW.replace("return 1", "return 2"))  # code change: miss for code_hash
    fourth = _runs(tmp_path, flow)
    assert _ran(tmp_path) == ["by_code"]
    assert fourth["by_code"].outputs["number"] == 2 and not fourth["by_code"].cached

    changed_param = stepc.run(
        str(flow),
        {"path": str(tmp_path / "input.txt"), "journal": str(tmp_path / "other.txt")},
        store=tmp_path / "store",
    )
    assert not changed_param["by_code"].cached  # a parameter value is part of the key


# --- code_hash covers what the step reads, transitively ----------------------------------------

DEPENDENT = """
from stepc import pipeline, step
from helpers import scaled

FACTOR = 2


def double(x):
    return x * FACTOR


@step(outputs=["a"], cache="code_hash")
def uses_constant(journal: str = ""):
    _mark(journal, "uses_constant")
    return double(3)


@step(outputs=["b"], cache="code_hash")
def uses_sibling(journal: str = ""):
    _mark(journal, "uses_sibling")
    return scaled(5)


@step(outputs=["c"], cache="code_hash")
def standalone(journal: str = ""):
    _mark(journal, "standalone")
    return 7


def _mark(journal, name):
    with open(journal, "a") as f:
        f.write(name + "\\n")


pipeline("dependent", steps=[uses_constant, uses_sibling, standalone])
"""
HELPERS = """
SCALE = 10


def scaled(x):
    return _times(x, SCALE)


def _times(x, n):
    return x * n
"""


def _dependent(tmp_path: Path) -> Path:
    flow = tmp_path / "dependent.py"
    flow.write_text(DEPENDENT)
    (tmp_path / "helpers.py").write_text(HELPERS)
    return flow


def _run_dependent(tmp_path: Path, flow: Path, **options: object) -> stepc.interpreter.RunResult:
    result: stepc.interpreter.RunResult = stepc.run(
        str(flow), {"journal": str(tmp_path / "journal.txt")}, store=tmp_path / "store", **options
    )
    assert result.ok, result.error
    return result


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_changing_a_constant_or_a_helper_invalidates_exactly_the_steps_that_reach_it(tmp_path: Path) -> None:
    flow = _dependent(tmp_path)
    _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == ["standalone", "uses_constant", "uses_sibling"]
    again = _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == []
    assert all(again[name].cached and again[name].attempts == 0 for name in ("uses_constant", "standalone"))
    _edit(flow, "FACTOR = 2", "FACTOR = 3")  # a constant a helper of the flow reads
    changed = _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == ["uses_constant"] and changed["uses_constant"].outputs["a"] == 9
    _edit(tmp_path / "helpers.py", "return x * n", "return x * n + 1")  # a helper's helper, in a sibling module
    changed = _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == ["uses_sibling"] and changed["uses_sibling"].outputs["b"] == 51
    _edit(tmp_path / "helpers.py", "SCALE = 10", "SCALE = 11")  # a constant of the sibling module
    _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == ["uses_sibling"]
    _edit(flow, "    return 7", "    return 7  # a comment is not code")
    _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == []


def test_no_cache_and_rerun_compute_again(tmp_path: Path) -> None:
    flow = _dependent(tmp_path)
    _run_dependent(tmp_path, flow)
    _ran(tmp_path)
    _run_dependent(tmp_path, flow, rerun=["standalone"])
    assert _ran(tmp_path) == ["standalone"]
    _run_dependent(tmp_path, flow, no_cache=True)
    assert _ran(tmp_path) == ["standalone", "uses_constant", "uses_sibling"]
    # what those runs computed is stored: the next run reuses it
    _run_dependent(tmp_path, flow)
    assert _ran(tmp_path) == []


def test_rerun_of_an_unknown_step_is_a_usage_error(tmp_path: Path) -> None:
    from tests.helpers import stepc as stepc_cli

    flow = _dependent(tmp_path)
    result = stepc_cli("run", str(flow), "--rerun", "standalon", "--store", str(tmp_path / "store"))
    assert result.returncode == 2
    assert "no step 'standalon'" in result.stderr and "did you mean 'standalone'" in result.stderr
