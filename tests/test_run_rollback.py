"""Rollbacks run in reverse completion order; a failing one does not stop the others."""

from __future__ import annotations

from pathlib import Path

import stepc
from stepc.interpreter.rundb import RunDB

FLOW = str(Path(__file__).resolve().parent / "flows" / "run" / "rollback.py")


def test_rollbacks_in_reverse_order_best_effort(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    r = stepc.run(FLOW, {"journal": str(journal)}, store=tmp_path / "store")
    assert r.status == "failed" and "d fails" in (r.error or "")
    assert journal.read_text().split("\n")[:-1] == ["a", "b", "c", "undo c", "undo a"]
    assert r.rollbacks == (("c", None, "succeeded"), ("b", None, "failed"), ("a", None, "succeeded"))
    db = RunDB(tmp_path / "store" / "stepc.db")
    rows = db.rollbacks(r.run_id)
    db.close()
    assert [(x["step"], x["status"]) for x in rows] == [("c", "succeeded"), ("b", "failed"), ("a", "succeeded")]
    log = (tmp_path / "store" / "runs" / r.run_id / "b" / "rollback.log").read_text()
    assert "cannot undo b" in log


def test_no_rollback_when_the_run_succeeds(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    r = stepc.run(FLOW, {"journal": str(journal), "fail": False}, store=tmp_path / "store")
    assert r.ok and r.rollbacks == ()
    assert journal.read_text().split() == ["a", "b", "c"]
