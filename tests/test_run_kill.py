"""Timeouts kill: every process a step started is gone when its attempt ends, whether it timed
out, failed, succeeded or the run was stopped; those in a new session, double-forked daemons
and processes that ignore SIGTERM or SIGALRM included. Real runs of the CLI in subprocesses,
survivors looked for in ``/proc``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stepc.interpreter.rundb import RunDB

SPAWNS = Path(__file__).resolve().parent / "flows" / "run" / "spawns.py"
STEPC = [sys.executable, "-m", "stepc"]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _project(tmp_path: Path, grace: object = 1) -> Path:
    """The flow in a project whose ``[tool.stepc] kill_grace`` is ``grace``."""
    shutil.copy(SPAWNS, tmp_path / "spawns.py")
    (tmp_path / "pyproject.toml").write_text(f"[tool.stepc]\nkill_grace = {json.dumps(grace)}\n")
    return tmp_path / "spawns.py"


def survivors(marker: Path) -> list[int]:
    """Live processes whose command line holds ``marker`` (zombies are dead: not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if str(marker).encode() in cmdline and stat[stat.rfind(")") + 2] != "Z":
            found.append(int(entry.name))
    return found


def _spawned(marker: Path) -> list[int]:
    pids = sorted(int(p.name.split(".")[1]) for p in marker.glob("pid.*"))
    assert len(pids) == 3, pids  # the step did start its three sleepers
    return pids


def _assert_all_gone(marker: Path) -> None:
    pids = _spawned(marker)
    assert survivors(marker) == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _attempts(store: Path) -> list[dict[str, object]]:
    (run_id,) = os.listdir(store / "runs")
    db = RunDB(store / "stepc.db")
    try:
        return db.attempts(run_id)
    finally:
        db.close()


def _run(flow: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([*STEPC, "run", str(flow), "-q", *args], capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def test_a_timeout_kills_the_step_and_every_process_it_started(tmp_path: Path) -> None:
    flow, marker, store = _project(tmp_path), tmp_path / "marker", tmp_path / "store"
    done, elapsed = _run(flow, "--pipeline", "overrun", "--store", str(store), "-p", f"marker={marker}")
    assert done.returncode == 1 and "timed out after 1s" in done.stderr, done.stderr
    _assert_all_gone(marker)  # the new session's stubborn one and the daemon too
    (attempt,) = _attempts(store)
    assert attempt["status"] == "timeout"
    # SIGTERM at 1 s, the stubborn sleeper's SIGKILL at 1 + kill_grace: no 600 s sleep ran out
    assert elapsed < 15, elapsed


def test_a_step_that_ignores_sigterm_is_killed_after_the_configured_grace(tmp_path: Path) -> None:
    flow, marker, store = _project(tmp_path, grace=2), tmp_path / "marker", tmp_path / "store"
    done, _ = _run(
        flow, "--pipeline", "overrun", "--store", str(store), "-p", f"marker={marker}", "-p", "stubborn=true"
    )
    assert done.returncode == 1, done.stderr
    _assert_all_gone(marker)
    (attempt,) = _attempts(store)
    assert attempt["status"] == "timeout"
    # the deadline at 1 s, then kill_grace = 2 s of SIGTERM ignored before the SIGKILL
    assert 3.0 <= float(attempt["duration"]) < 8.0, attempt  # type: ignore[arg-type]


def test_a_group_step_that_ignores_sigalrm_is_stopped_at_its_limit(tmp_path: Path) -> None:
    flow, marker, store = _project(tmp_path), tmp_path / "marker", tmp_path / "store"
    done, elapsed = _run(flow, "--pipeline", "group", "--store", str(store), "-p", f"marker={marker}")
    assert done.returncode == 1 and "step 'grouped' failed: timed out after 1s" in done.stderr, done.stderr
    _assert_all_gone(marker)
    rows = {a["step"]: a["status"] for a in _attempts(store)}
    assert rows == {"opener": "succeeded", "grouped": "timeout"}
    (run_id,) = os.listdir(store / "runs")
    assert "same process: True" in (store / "runs" / run_id / "grouped" / "log.1.txt").read_text()
    assert elapsed < 15, elapsed


def test_what_a_successful_step_leaves_behind_is_stopped(tmp_path: Path) -> None:
    flow, marker, store = _project(tmp_path), tmp_path / "marker", tmp_path / "store"
    done, _ = _run(flow, "--pipeline", "leaves", "--store", str(store), "-p", f"marker={marker}")
    assert done.returncode == 0, done.stderr
    _assert_all_gone(marker)


def _exec(flow: Path, store: Path, step: str, marker: Path) -> subprocess.Popen[str]:
    pipeline = {"overrun": "overrun", "leaves": "leaves", "waits": "waits"}[step]
    argv = [*STEPC, "exec", str(flow), "--pipeline", pipeline, "--step", step, "--run-id", "r1"]
    return subprocess.Popen(
        [*argv, "--store", str(store), "-p", f"marker={marker}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_exec_kills_every_process_of_a_timed_out_attempt(tmp_path: Path) -> None:
    flow, marker = _project(tmp_path), tmp_path / "marker"
    out, err = _exec(flow, tmp_path / "store", "overrun", marker).communicate(timeout=60)
    control = json.loads(out.splitlines()[-1])
    assert control["status"] == "failed" and control["error"] == "timed out after 1s (killed)", err
    _assert_all_gone(marker)


def test_exec_stops_what_a_successful_attempt_leaves_behind(tmp_path: Path) -> None:
    flow, marker = _project(tmp_path), tmp_path / "marker"
    process = _exec(flow, tmp_path / "store", "leaves", marker)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and json.loads(out.splitlines()[-1])["status"] == "succeeded", err
    _assert_all_gone(marker)


def _wait_for_sleepers(marker: Path) -> None:
    deadline = time.monotonic() + 30
    while len(list(marker.glob("pid.*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_runner_stops_every_process_and_the_run_resumes(tmp_path: Path, sig: int, code: int) -> None:
    flow, marker, store = _project(tmp_path), tmp_path / "marker", tmp_path / "store"
    runner = subprocess.Popen(
        [*STEPC, "run", str(flow), "-q", "--pipeline", "waits", "--store", str(store), "-p", f"marker={marker}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_sleepers(marker)
    runner.send_signal(sig)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == code and "interrupted" in err, err
    _assert_all_gone(marker)
    (run_id,) = os.listdir(store / "runs")
    show = subprocess.run([*STEPC, "show", run_id, "--store", str(store), "--json"], capture_output=True, text=True)
    assert json.loads(show.stdout)["run"]["status"] == "interrupted"
    shutil.rmtree(marker)
    resumed = subprocess.run(
        [*STEPC, "resume", run_id, "--store", str(store), "-q", "-p", "pause=0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr
    _assert_all_gone(marker)  # the resumed attempt's sleepers are stopped when it succeeds


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_exec_stops_every_process_of_its_attempt(tmp_path: Path, sig: int, code: int) -> None:
    flow, marker = _project(tmp_path), tmp_path / "marker"
    process = _exec(flow, tmp_path / "store", "waits", marker)
    _wait_for_sleepers(marker)
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code and f"interrupted by {signal.Signals(sig).name}" in err, err
    _assert_all_gone(marker)


@pytest.mark.parametrize("value", ["soon", -1, True])
def test_a_bad_kill_grace_is_t103_at_its_line(tmp_path: Path, value: object) -> None:
    flow = _project(tmp_path, grace=value)
    for command in (
        ["run", str(flow), "--pipeline", "leaves"],
        ["exec", str(flow), "--pipeline", "leaves", "--step", "leaves", "--run-id", "r"],
    ):
        done = subprocess.run(
            [*STEPC, *command, "--store", str(tmp_path / "store")], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("pyproject.toml:2:1: error[T103]: setting 'kill_grace' in [tool.stepc] is ")
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "store" / "runs").exists()  # nothing ran


def test_the_python_api_stops_the_tree_and_leaves_the_callers_own_children_alone(tmp_path: Path) -> None:
    """``stepc.run`` runs in the caller's process: orphans of the step go to the attempt's
    supervisor, never to the caller, whose own child processes stepc neither reaps nor kills."""
    import stepc

    flow, marker = _project(tmp_path), tmp_path / "marker"
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = stepc.run(str(flow), {"marker": str(marker)}, pipeline="leaves", store=tmp_path / "store")
        assert result.ok, result.error
        _assert_all_gone(marker)
        assert mine.poll() is None  # still running, and still ours to wait for
    finally:
        mine.kill()
    assert mine.wait(timeout=10) == -signal.SIGKILL
