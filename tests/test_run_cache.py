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
