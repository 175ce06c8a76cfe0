"""Rollbacks run in reverse completion order; a failing one does not stop the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


DATA_FLOW = Path(__file__).resolve().parent / "flows" / "run" / "rollback_data.py"


def test_a_rollback_gets_what_its_step_kept_with_current_rollback_data(tmp_path: Path, monkeypatch: Any) -> None:
    journal = tmp_path / "journal.txt"
    monkeypatch.setenv("JOURNAL", str(journal))  # the children inherit it
    r = stepc.run(str(DATA_FLOW), {"journal": str(journal)}, store=tmp_path / "store")
    assert r.status == "failed" and "boom fails" in (r.error or "")
    # Newest first; a step that kept nothing gives its rollback None.
    assert journal.read_text().splitlines() == ["undo plain data=None", "undo bucket id=42"]


def test_stepc_exec_rollback_passes_the_rollback_data_too(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    env = {**os.environ, "JOURNAL": str(journal)}
    base = [sys.executable, "-m", "stepc", "exec", str(DATA_FLOW), "--run-id", "r1", "--store", str(tmp_path / "s")]
    for name in ("create", "plain"):
        step = subprocess.run([*base, "--step", name, "-p", f"journal={journal}"], env=env, capture_output=True)
        assert step.returncode == 0, step.stderr
    undo = subprocess.run([*base, "--rollback"], env=env, capture_output=True, text=True)
    assert undo.returncode == 0, undo.stderr
    assert journal.read_text().splitlines() == ["undo plain data=None", "undo bucket id=42"]
