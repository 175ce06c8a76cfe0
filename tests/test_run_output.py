"""What `stepc run` shows of the steps themselves: their output live, marked by task; a failure's
traceback with the user's own frames and where the whole log is; what a rollback printed; and
`stepc logs` on a log that holds nothing. Real runs of the CLI, in subprocesses."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import stepc

FLOW = """\
from stepc import pipeline, step


def undo_make(xs):
    print("undoing make of", xs)


@step(outputs=["xs"], rollback=undo_make)
def make():
    print("making")
    return [1, 2]


@step(inputs=["xs"], outputs=["y"], foreach="xs")
def each(xs):
    print("item", xs, end="")  # no line end: shown when the task ends
    return xs * 2


@step(inputs=["y"], outputs=["z"])
def boom(y, fail: bool = True):
    print("about to look at", y)
    return pick(y, 10 if fail else 0)


def pick(values, at):
    return values[at]


@step(inputs=["z"])
def silent(z):
    return None


pipeline("chatty", steps=[make, each, boom, silent])
"""


def _flow(tmp_path: Path) -> Path:
    flow = tmp_path / "chatty.py"
    flow.write_text(FLOW, encoding="utf-8")
    return flow


def test_step_output_streams_marked_by_task_and_quiet_hides_it(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    shown = stepc("run", str(flow), "-p", "fail=false", "--store", str(tmp_path / "s1"))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "[make] making" in lines
    assert {"[each/0] item 1", "[each/1] item 2"} <= set(lines)
    assert "[boom] about to look at [2, 4]" in lines
    # a step's lines come after it started and before it is reported done
    started = next(i for i, line in enumerate(lines) if line.endswith("make: started"))
    done = next(i for i, line in enumerate(lines) if "make: succeeded" in line)
    assert started < lines.index("[make] making") < done
    quiet = stepc("run", str(flow), "-p", "fail=false", "--store", str(tmp_path / "s2"), "--quiet")
    assert quiet.returncode == 0 and "[make]" not in quiet.stdout + quiet.stderr


def test_a_failure_shows_the_users_traceback_and_where_the_log_is(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    failed = stepc("run", str(flow), "--store", str(tmp_path / "store"))
    assert failed.returncode == 1
    out = failed.stdout
    summary = out[out.index("boom failed:") :]
    assert "Traceback (most recent call last):" in summary
    assert re.search(r'File ".*chatty\.py", line 23, in boom', summary)
    assert re.search(r'File ".*chatty\.py", line 27, in pick', summary)
    assert "IndexError: list index out of range" in summary
    assert "stepc/runtime" not in summary and "stepc/interpreter" not in summary  # user frames only
    run_id = re.search(r"run (\S+) of chatty started", out)
    assert run_id is not None
    assert f"stepc logs {run_id.group(1)} boom" in summary
    # the rollback of make ran, and what it printed is shown too
    assert "[make rollback] undoing make of [1, 2]" in out.splitlines()


def test_logs_says_when_a_log_is_empty(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    store = str(tmp_path / "store")
    ran = stepc("run", str(flow), "-p", "fail=false", "--store", store, "--quiet")
    assert ran.returncode == 0, ran.stderr
    runs = stepc("runs", "--store", store)
    run_id = re.search(r"\d{8}T\d{6}\d*Z-[0-9a-f]+", runs.stdout)
    assert run_id is not None, runs.stdout
    empty = stepc("logs", run_id.group(0), "silent", "--store", store)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "printed nothing" in empty.stderr
    full = stepc("logs", run_id.group(0), "make", "--store", store)
    assert full.stdout == "making\n" and "printed nothing" not in full.stderr
