"""The store never lies: a changed artifact is never served, a corrupt result counts as not
done, a corrupt database is one line and `stepc store repair` rebuilds it from the files.
Real runs, real files changed on disk as a user (or a disk) would change them."""

from __future__ import annotations

import json
from pathlib import Path

from stepc.runtime.store import Store
from tests.helpers import stepc

FLOW = """
import os
from stepc import pipeline, step


@step(outputs=["xs"])
def make():
    return [1, 2, 3, 4]


@step(inputs=["xs"], outputs=["sq"], foreach="xs")
def square(xs):
    return xs * xs


@step(inputs=["sq"], outputs=["total"])
def total(sq, fail_flag: str = ""):
    if fail_flag and os.path.exists(fail_flag):
        raise RuntimeError("not yet")
    return sum(sq)


pipeline("squares", steps=[make, square, total])
"""


def _failed_run(tmp_path: Path) -> tuple[str, str, Path]:
    """A run that failed at `total` (the flag file exists), its id and its store."""
    flow = tmp_path / "squares.py"
    flow.write_text(FLOW)
    flag = tmp_path / "fail"
    flag.write_text("")
    store = tmp_path / "store"
    ran = stepc("run", str(flow), "-q", "--store", str(store), "-p", f"fail_flag={flag}", cwd=tmp_path)
    assert ran.returncode == 1
    (run_dir,) = (store / "runs").iterdir()
    flag.unlink()
    return json.loads((run_dir / "run.json").read_text())["run_id"], str(store), run_dir


def test_a_changed_artifact_is_made_again_on_resume_not_served(tmp_path: Path) -> None:
    run_id, store, run_dir = _failed_run(tmp_path)
    stored = run_dir / "square" / "items" / "1" / "out.sq.json"
    assert json.loads(stored.read_text()) == 4
    stored.write_text("1000")
    shown = stepc("artifact", run_id, "square", "sq", "--item", "1", "--store", store, cwd=tmp_path)
    assert shown.returncode == 1 and "changed after it was written" in shown.stderr
    assert "Traceback" not in shown.stderr
    resumed = stepc("resume", run_id, "-q", "--store", store, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "square[1]: output 'sq' changed after it was written: running the task again" in resumed.stderr
    total = stepc("artifact", run_id, "total", "total", "--store", store, cwd=tmp_path)
    assert json.loads(total.stdout) == 30  # 1 + 4 + 9 + 16, not 1026


def test_a_corrupt_result_counts_as_not_done(tmp_path: Path) -> None:
    run_id, store, run_dir = _failed_run(tmp_path)
    result = run_dir / "square" / "items" / "2" / "result.json"
    result.write_text(result.read_text()[:20])  # truncated
    resumed = stepc("resume", run_id, "-q", "--store", store, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "is corrupt: the task counts as not done" in resumed.stderr
    again = Store(Path(store)).read_result(run_id, "square", (2,))
    assert again is not None and again.attempt == 2  # it ran again
    total = stepc("artifact", run_id, "total", "total", "--store", store, cwd=tmp_path)
    assert json.loads(total.stdout) == 30


def test_a_corrupt_database_is_one_line_and_repair_rebuilds_it_from_the_files(tmp_path: Path) -> None:
    run_id, store, _ = _failed_run(tmp_path)
    db = Path(store) / "stepc.db"
    db.write_bytes(b"this is not a database" * 100)
    for side in ("stepc.db-wal", "stepc.db-shm"):
        (Path(store) / side).unlink(missing_ok=True)
    broken = stepc("runs", "--store", store, cwd=tmp_path)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "stepc store repair" in broken.stderr and len(broken.stderr.strip().splitlines()) == 1
    repaired = stepc("store", "repair", "--store", store, cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert (
        "indexed 1 run(s), 5 task(s)" in repaired.stdout
    )  # make and four squares; total failed and "moved the old database" in repaired.stdout
    listed = stepc("runs", "--store", store, cwd=tmp_path)
    assert listed.returncode == 0 and run_id in listed.stdout and "repaired" in listed.stdout
    # the rebuilt index is enough to resume the run
    resumed = stepc("resume", run_id, "-q", "--store", store, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    total = stepc("artifact", run_id, "total", "total", "--store", store, cwd=tmp_path)
    assert json.loads(total.stdout) == 30
