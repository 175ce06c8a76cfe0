"""Foreach fan-out, chained maps, joins in item order, conditions, optional inputs, groups."""

from __future__ import annotations

from pathlib import Path

import pytest

import stepc
from stepc.interpreter.rundb import RunDB

FLOWS = Path(__file__).resolve().parent / "flows" / "run"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> stepc.interpreter.RunResult:
    store = tmp_path_factory.mktemp("store")
    result: stepc.interpreter.RunResult = stepc.run(str(FLOWS / "semantics.py"), store=store, workers=2)
    return result


def test_foreach_chained_map_and_join(default_run: stepc.interpreter.RunResult) -> None:
    r = default_run
    assert r.ok, r.error
    assert r["square"].items == 4 and r["plus_one"].items == 4
    assert r["total"].outputs["total"] == {"items": [1, 2, 5, 10], "sum": 18}


def test_foreach_over_a_list_parameter(default_run: stepc.interpreter.RunResult) -> None:
    assert default_run["label"].outputs["labels"] == ["A", "B", "C"]


def test_false_condition_skips_and_propagates(default_run: stepc.interpreter.RunResult) -> None:
    assert default_run["maybe"].status == "skipped"
    assert default_run["needs_extra"].status == "skipped"  # required input of a skipped step
    assert default_run["final"].outputs["final"]["extra"] is None  # optional input gets None
    assert default_run["last"].status == "succeeded"


def test_group_steps_run_in_one_process(default_run: stepc.interpreter.RunResult) -> None:
    a = default_run["g1"].outputs["a"]
    assert default_run["g2"].outputs["b"] == [a, a]


def test_attempts_record_lineage(default_run: stepc.interpreter.RunResult) -> None:
    db = RunDB(Path(default_run.store_root) / "stepc.db")
    rows = {(a["step"], a["item"]): a for a in db.attempts(default_run.run_id)}
    db.close()
    rid = default_run.run_id
    assert rows[("total", None)]["inputs"] == [f"{rid}/plus_one/{k}/plus" for k in range(4)]
    assert rows[("plus_one", "2")]["inputs"] == [f"{rid}/square/2/squared"]
    assert rows[("square", "1")]["outputs"] == [f"{rid}/square/1/squared"]
    assert rows[("make", None)]["params"] == {"n": 4}


def test_true_condition_and_typed_params(tmp_path: Path) -> None:
    r = stepc.run(str(FLOWS / "semantics.py"), {"flag": True, "n": 2, "names": ["x"]}, store=tmp_path)
    assert r.ok, r.error
    assert r["needs_extra"].outputs["dep"] == "extra!?"
    assert r["final"].outputs["final"] == {"total": 3, "extra": "extra!", "labels": ["X"]}


def test_empty_foreach(tmp_path: Path) -> None:
    r = stepc.run(str(FLOWS / "semantics.py"), {"n": 0, "names": []}, store=tmp_path)
    assert r.ok, r.error
    assert r["total"].outputs["total"] == {"items": [], "sum": 0}
    assert r["label"].outputs["labels"] == []


def test_bad_param_value_raises_before_running(tmp_path: Path) -> None:
    with pytest.raises(stepc.interpreter.ParamError, match="'n' expects int"):
        stepc.run(str(FLOWS / "semantics.py"), {"n": "four"}, store=tmp_path)
    assert not (tmp_path / "runs").exists()


CLASH = """
from stepc import pipeline, step


class Point:
    def __init__(self, x):
        self.x = x


@step(outputs=["p"])
def make():
    return Point(3)


@step(inputs=["p"], outputs=["x"])
def use(p):
    return p.x * 2


pipeline("clash", steps=[make, use])
"""


def test_a_flow_named_like_a_stdlib_module_does_not_shadow_it(tmp_path: Path) -> None:
    import json

    flow = tmp_path / "json.py"
    flow.write_text(CLASH)
    r = stepc.run(str(flow), store=tmp_path / "store")
    assert r.ok, r.error
    assert r["use"].outputs["x"] == 6  # a pickled object of the flow's own class went between steps
    assert json.dumps([1]) == "[1]"
