"""What engines rely on in `stepc exec`'s output: the last stdout line is the control message,
a group's last line carries every fan-out count, and null is a value of a None-default parameter."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import stepc

FLOW = """\
from stepc import pipeline, step


@step(outputs=["items"], group="prep")
def make(n: int = 3):
    print("no newline at the end", end="")
    return list(range(n))


@step(inputs=["items"], outputs=["total"], group="prep")
def total(items, label: str = None):
    return {"sum": sum(items), "label": label}


@step(inputs=["items"], outputs=["square"], foreach="items")
def square(items):
    return items * items


pipeline("contract", steps=[make, total, square])
"""


def test_group_control_line_and_null_parameters(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    store = str(tmp_path / "store")
    result = stepc(
        "exec", "flow.py", "--step", "make", "--step", "total", "--run-id", "r1", "--store", store,
        "--params", json.dumps({"n": 4, "label": None}), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    last = json.loads(lines[-1])
    assert last["step"] == "total" and last["status"] == "succeeded"
    assert last["foreach"]["items"]["count"] == 4  # produced by the group's first step
    assert result.stderr.endswith("\n") and "no newline at the end" in result.stderr
    shown = stepc("artifact", "r1", "total", "total", "--store", store, cwd=tmp_path)
    assert json.loads(shown.stdout) == {"sum": 6, "label": None}
