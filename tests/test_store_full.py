"""A full store: a write that finds no room (an artifact, a log, the run database) stops the
command with one line naming the store and what was being written, leaves no temporary file,
makes nothing partial visible, and `stepc resume` finishes the run once there is room again.

The limit is real: the commands run under RLIMIT_FSIZE, so writes past it fail with EFBIG, the
errno a file size quota gives (ENOSPC on a full disk takes the same path)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store_faults import leftovers, run

FLOW = """
from stepc import pipeline, step


@step(outputs=["xs"])
def make(n: int = 4):
    return list(range(1, n + 1))


@step(inputs=["xs"], outputs=["sq"], foreach="xs")
def square(xs):
    return xs * xs


@step(inputs=["sq"], outputs=["blob"])
def grow(sq, size: int = 10, chatter: int = 0):
    print("x" * chatter)
    return "x" * size


@step(inputs=["sq", "blob"], outputs=["total"])
def total(sq, blob):
    return sum(sq) + len(blob)


pipeline("growing", steps=[make, square, grow, total])
"""

MB = 1_000_000


def _flow(tmp_path: Path) -> Path:
    flow = tmp_path / "growing.py"
    flow.write_text(FLOW)
    return flow


def _run_id(store: Path) -> str:
    (run_dir,) = (store / "runs").iterdir()
    return str(json.loads((run_dir / "run.json").read_text())["run_id"])


def _resumes(tmp_path: Path, store: Path, run_id: str, total: int) -> None:
    """With the limit lifted, the run resumes and finishes with the right total."""
    resumed = run("resume", run_id, "-q", "--store", str(store), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    got = run("artifact", run_id, "total", "total", "--store", str(store), cwd=tmp_path)
    assert json.loads(got.stdout) == total


def test_an_artifact_too_big_for_the_store_is_one_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ("run", str(_flow(tmp_path)), "-q", "--store", str(store), "-p", f"size={3 * MB}")
    ran = run(*args, cwd=tmp_path, limit=MB)
    run_id = _run_id(store)
    blob = f"runs/{run_id}/grow/out.blob.json"
    assert ran.returncode == 1
    assert (
        ran.stderr
        == f"error: the store at {store} is full (File too large) while writing output 'blob' of step 'grow' ({blob})\n"
    )
    assert leftovers(store) == []
    grow = store / "runs" / run_id / "grow"
    assert not (grow / "out.blob.json").exists() and not (grow / "result.json").exists()
    # What ran before is whole and committed.
    squares = run("artifacts", run_id, "square", "--store", str(store), cwd=tmp_path)
    assert squares.returncode == 0 and squares.stdout.count(" sq ") == 4, squares.stdout
    shown = run("show", run_id, "--json", "--store", str(store), cwd=tmp_path)
    doc = json.loads(shown.stdout)
    assert doc["run"]["status"] == "failed" and "is full" in doc["run"]["error"]
    assert {s["step"]: s["status"] for s in doc["steps"]}["square"] == "succeeded"
    _resumes(tmp_path, store, run_id, 1 + 4 + 9 + 16 + 3 * MB)


def test_a_log_that_fills_the_store_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ("run", str(_flow(tmp_path)), "-q", "--store", str(store), "-p", f"chatter={2 * MB}")
    ran = run(*args, cwd=tmp_path, limit=MB)
    run_id = _run_id(store)
    assert ran.returncode == 1
    assert ran.stderr.startswith(
        f"error: the store at {store} is full (File too large) while writing the log of step 'grow'"
    )
    assert len(ran.stderr.splitlines()) == 1 and leftovers(store) == []
    assert not (store / "runs" / run_id / "grow" / "result.json").exists()
    _resumes(tmp_path, store, run_id, 1 + 4 + 9 + 16 + 10)


def test_a_full_run_database_is_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # 300 items write far more than 150 kB of attempt rows to the WAL: it fills mid-run.
    ran = run(
        "run", str(_flow(tmp_path)), "-q", "-j", "2", "--store", str(store), "-p", "n=300", cwd=tmp_path, limit=150_000
    )
    assert ran.returncode == 1
    assert (
        ran.stderr == f"error: the store at {store} is full (File too large) while writing the run database stepc.db\n"
    )
    assert leftovers(store) == []
    run_id = _run_id(store)
    done = list((store / "runs" / run_id / "square" / "items").glob("*/result.json"))
    assert 0 < len(done) < 300  # it stopped mid-run, with some items committed
    _resumes(tmp_path, store, run_id, sum(k * k for k in range(1, 301)) + 10)


def test_stepc_exec_with_no_room_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    flow = str(_flow(tmp_path))
    made = run("exec", flow, "--step", "make", "--run-id", "r1", "--store", str(store), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for item in range(4):
        args = ("exec", flow, "--step", "square", "--item", str(item), "--run-id", "r1", "--store", str(store))
        assert run(*args, cwd=tmp_path).returncode == 0
    args = ("exec", flow, "--step", "grow", "--run-id", "r1", "--store", str(store), "-p", f"size={3 * MB}")
    full = run(*args, cwd=tmp_path, limit=MB)
    assert full.returncode == 1
    assert full.stdout == ""  # no control line: the engine sees the failure and the one line
    blob = "runs/r1/grow/out.blob.json"
    assert (
        full.stderr
        == f"error: the store at {store} is full (File too large) while writing output 'blob' of step 'grow' ({blob})\n"
    )
    assert "Traceback" not in full.stderr and leftovers(store) == []
    again = run(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["status"] == "succeeded"


OVERWRITE = """
import sys
from pathlib import Path
from stepc.runtime.files import atomic_write
target = Path(sys.argv[1])
try:
    atomic_write(target, b"y" * 3_000_000)
except OSError as exc:
    print(exc.errno, exc.strerror)
"""


def test_a_failed_overwrite_keeps_the_old_file_whole_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_bytes(b'{"old": true}')
    got = run("-c", OVERWRITE, str(target), cwd=tmp_path, limit=MB)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "27 File too large"  # EFBIG
    assert target.read_bytes() == b'{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


EXITS_74 = """
import os
from stepc import pipeline, step


@step(outputs=["x"])
def quits():
    os._exit(74)  # the exit code a child uses to report a full store, without the report
    return 1


pipeline("quits", steps=[quits])
"""


def test_a_step_exiting_with_the_store_code_is_an_ordinary_failure(tmp_path: Path) -> None:
    flow = tmp_path / "quits.py"
    flow.write_text(EXITS_74)
    ran = run("run", str(flow), "-q", "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert ran.returncode == 1
    assert "the step process exited with code 74" in ran.stderr and "is full" not in ran.stderr


ON_A_SMALL_DISK = """
set -u
store="$0"; flow="$1"; python="$2"
mount -t tmpfs -o size=2m stepc-test "$store" || exit 97
"$python" -m stepc run "$flow" -q --store "$store" -p size=3000000 2>"$store.err"; echo "run exit $?"
find "$store" -name '*.tmp' | sed 's/^/left: /'
mount -o remount,size=64m "$store"  # room again
"$python" -m stepc resume last -q --store "$store"; echo "resume exit $?"
"$python" -m stepc artifact last total total --store "$store"
"""


def test_a_really_full_disk_is_one_line_and_the_run_resumes_once_there_is_room(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # A 2 MB tmpfs in a private mount namespace: writes past it fail with ENOSPC, for real.
    command = ["unshare", "--mount", "sh", "-c", ON_A_SMALL_DISK, str(store), str(_flow(tmp_path)), sys.executable]
    got = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    if got.returncode == 97 or "unshare failed" in got.stderr or "Operation not permitted" in got.stderr:
        pytest.skip(
            f"cannot mount a small file system here ({got.stderr.strip()[-120:]}); the RLIMIT tests cover EFBIG"
        )
    err = Path(f"{store}.err").read_text()
    assert err.startswith(f"error: the store at {store} is full (No space left on device) while writing "), err
    assert len(err.splitlines()) == 1
    assert got.stdout.splitlines() == ["run exit 1", "resume exit 0", str(1 + 4 + 9 + 16 + 3_000_000)], got
