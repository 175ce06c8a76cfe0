"""Past runs from Python: ``stepc.Run`` and ``stepc.runs`` read what `stepc run` left in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

import stepc

FLOW = """
from stepc import current, pipeline, step


@step(outputs=["xs"])
def make(n: int = 3):
    print("making", n)
    return list(range(n))


@step(inputs=["xs"], outputs=["sq"], foreach="xs")
def square(xs):
    current.metrics({"input": xs})
    return xs * xs


@step(inputs=["sq"], outputs=["total"])
def total(sq):
    return sum(sq)


pipeline("squares", steps=[make, square, total])
"""


def test_a_run_reads_back_its_status_params_artifacts_logs_and_metrics(tmp_path: Path) -> None:
    flow = tmp_path / "squares.py"
    flow.write_text(FLOW)
    store = tmp_path / "store"
    first = stepc.run(str(flow), {"n": 2}, store=store)
    second = stepc.run(str(flow), {"n": 4}, store=store)
    assert first.ok and second.ok
    run = stepc.Run("latest", store=store)
    assert run.run_id == second.run_id and run.status == "succeeded" and run.params == {"n": 4}
    assert run.pipeline == "squares" and run.steps == ["make", "square", "total"]
    assert [t.item for t in run["square"].items] == ["0", "1", "2", "3"]
    assert run["square"].items[3].artifacts["sq"] == 9
    assert run["square"].items[2].metrics == {"input": 2}
    assert run["total"].artifacts["total"] == 14
    assert run["make"].task.logs() == "making 4\n"
    older = stepc.Run(first.run_id[:-2], store=store)  # a unique prefix is enough
    assert older["total"].artifacts["total"] == 1
    assert [r.run_id for r in stepc.runs(store=store)] == [second.run_id, first.run_id]
    with pytest.raises(KeyError, match="no step 'totl'"):
        run["totl"]
    with pytest.raises(KeyError, match="no output 'sum'"):
        run["total"].artifacts["sum"]
    with pytest.raises(LookupError, match="a foreach step"):
        _ = run["square"].task
    with pytest.raises(LookupError, match="no runs in"):
        stepc.Run(store=tmp_path / "empty")
