"""Failures are contained in the step's process, recorded, retried and logged."""

from __future__ import annotations

import time
from pathlib import Path

import stepc
from stepc.interpreter.rundb import RunDB

FLOWS = Path(__file__).resolve().parent / "flows" / "run"
FAILURES = str(FLOWS / "failures.py")


def _attempts(store: Path, run_id: str) -> list[dict[str, object]]:
    db = RunDB(store / "stepc.db")
    try:
        return db.attempts(run_id)
    finally:
        db.close()


def _log(store: Path, run_id: str, step: str, attempt: int = 1) -> str:
    return (store / "runs" / run_id / step / f"log.{attempt}.txt").read_text()


def test_timeout_kills_a_sleeping_step_within_a_second(tmp_path: Path) -> None:
    start = time.monotonic()
    r = stepc.run(FAILURES, pipeline="timeout", store=tmp_path)
    elapsed = time.monotonic() - start
    assert r.status == "failed"
    assert "timed out after 1s" in (r.error or "")
    (attempt,) = _attempts(tmp_path, r.run_id)
    assert attempt["status"] == "timeout"
    assert 1.0 <= float(attempt["duration"]) < 2.0  # type: ignore[arg-type]
    assert elapsed < 5.0  # the 30 s sleep did not run out (start-up included, slack for a busy machine)
    assert "going to sleep" in _log(tmp_path, r.run_id, "sleepy")


def test_flaky_step_succeeds_on_third_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "count.txt"
    start = time.monotonic()
    r = stepc.run(FAILURES, {"counter": str(counter)}, pipeline="flaky", store=tmp_path)
    assert r.ok, r.error
    assert r["flaky"].attempts == 3 and r["flaky"].outputs["count"] == 3
    rows = _attempts(tmp_path, r.run_id)
    assert [(a["attempt"], a["status"]) for a in rows] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert rows[0]["error"] == "RuntimeError: flaky failure 1"
    # delays 0.1 then 0.2 (backoff 2.0)
    stamps = [float(x) for x in counter.read_text().split()]
    assert stamps[1] - stamps[0] >= 0.1 and stamps[2] - stamps[1] >= 0.2
    assert time.monotonic() - start < 5
    assert "flaky failure 2" in _log(tmp_path, r.run_id, "flaky", 2)


def test_os_exit_is_a_failure_with_the_log_kept(tmp_path: Path) -> None:
    r = stepc.run(FAILURES, pipeline="exits", store=tmp_path)
    assert r.status == "failed" and r["exits"].status == "failed"
    assert r["downstream"].status == "not_run"
    (attempt,) = _attempts(tmp_path, r.run_id)
    assert attempt["exit_code"] == 3
    log = _log(tmp_path, r.run_id, "exits")
    assert "about to exit" in log and "exited with code 3" in log


def test_exception_is_a_failure_with_the_traceback_in_the_log(tmp_path: Path) -> None:
    r = stepc.run(FAILURES, pipeline="boom", store=tmp_path)
    assert r.status == "failed" and r.error == "step 'boom' failed: ValueError: boom"
    log = _log(tmp_path, r.run_id, "boom")
    assert "about to raise" in log and "Traceback" in log and 'raise ValueError("boom")' in log


def test_segfault_does_not_take_the_runner_down(tmp_path: Path) -> None:
    r = stepc.run(FAILURES, pipeline="segfault", store=tmp_path)
    assert r.status == "failed" and "SIGSEGV" in (r.error or "")
    assert "about to crash" in _log(tmp_path, r.run_id, "segfault")


def test_wrong_number_of_outputs_is_a_clear_failure(tmp_path: Path) -> None:
    r = stepc.run(FAILURES, pipeline="arity", store=tmp_path)
    assert r.error == "step 'wrong_arity' failed: the step declares 2 outputs ['one', 'two'] but returned one int"


def test_timeout_inside_a_group(tmp_path: Path) -> None:
    start = time.monotonic()
    r = stepc.run(FAILURES, pipeline="group-timeout", store=tmp_path)
    assert time.monotonic() - start < 5.0
    assert r["fast"].status == "succeeded" and r["slow"].status == "failed"
    assert "timed out after 1s" in (r.error or "")
    assert "same process: True" in _log(tmp_path, r.run_id, "slow")


def test_a_foreach_item_is_retried_on_its_own(tmp_path: Path) -> None:
    r = stepc.run(FAILURES, {"marker_dir": str(tmp_path)}, pipeline="item-retry", store=tmp_path / "store")
    assert r.ok, r.error
    assert r["collect"].outputs["collected"] == [0, 10, 20]
    rows = [
        (a["item"], a["attempt"], a["status"])
        for a in _attempts(tmp_path / "store", r.run_id)
        if a["step"] == "flaky_item"
    ]
    assert rows == [("0", 1, "succeeded"), ("1", 1, "failed"), ("1", 2, "succeeded"), ("2", 1, "succeeded")]
    log = (tmp_path / "store" / "runs" / r.run_id / "flaky_item" / "items" / "1" / "log.1.txt").read_text()
    assert "first try of item 1" in log


def test_a_timed_out_step_gets_to_clean_up(tmp_path: Path) -> None:
    """The deadline sends SIGTERM before SIGKILL: the step's finally blocks run, then it is gone."""
    flow = tmp_path / "cleanup.py"
    marker = tmp_path / "cleaned"
    flow.write_text(
        "import time\nfrom stepc import step\n\n\n"
        "@step(outputs=['x'], timeout=1)\n"
        f"def slow():\n    try:\n        time.sleep(60)\n    finally:\n        open({str(marker)!r}, 'w').close()\n"
        "    return 1\n"
    )
    r = stepc.run(str(flow), store=tmp_path / "store")
    assert not r.ok and "timed out after 1s" in (r.error or "")
    assert marker.exists()


CONTINUE = """
from stepc import pipeline, step


@step(outputs=["a", "b"], on_failure="continue", retry=1)
def flaky(journal: str = ""):
    with open(journal, "a") as f:
        f.write("try\\n")
    raise ValueError("no data today")


@step(inputs=["a"], outputs=["summary"])
def report(a):
    return {"a": a}


pipeline("cont", steps=[flaky, report])
"""


def test_on_failure_continue_gives_none_outputs_after_the_last_attempt(tmp_path: Path) -> None:
    flow = tmp_path / "cont.py"
    flow.write_text(CONTINUE)
    journal = tmp_path / "journal.txt"
    r = stepc.run(str(flow), {"journal": str(journal)}, store=tmp_path / "store")
    assert r.ok, r.error
    assert journal.read_text().split() == ["try", "try"]  # the retry first, then it goes on
    assert r["flaky"].outputs == {"a": None, "b": None}
    assert r["report"].outputs["summary"] == {"a": None}
    (task,) = r["flaky"].results
    assert task.caught == "ValueError: no data today"  # the failure is recorded
    # stepc exec (every engine) does the same on the last attempt
    import json
    import subprocess
    import sys

    store = str(tmp_path / "engine-store")
    argv = [sys.executable, "-m", "stepc", "exec", str(flow), "--step", "flaky", "--run-id", "e1", "--store", store]
    first = subprocess.run([*argv, "-p", f"journal={journal}"], capture_output=True, text=True, timeout=60)
    assert first.returncode == 1  # attempt 1 of 2: an engine retries it
    last = subprocess.run([*argv, "-p", f"journal={journal}"], capture_output=True, text=True, timeout=60)
    assert last.returncode == 0, last.stderr
    control = json.loads(last.stdout.strip().splitlines()[-1])
    assert control["status"] == "succeeded" and control["attempt"] == 2 and control["caught"].startswith("ValueError")
