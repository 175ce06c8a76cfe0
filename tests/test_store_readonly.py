"""A store the user may not write (copied from CI, mounted read-only) can be read by every read
command and by the Python client, which leave it byte for byte as they found it; `run` and
`resume` on it say in one line that it is read-only. The store really is read-only: see
tests/store_faults.py."""

from __future__ import annotations

import json
from pathlib import Path

from tests.store_faults import read_only, run, snapshot, writable_again

FLOW = """
import os
from stepc import current, pipeline, step


@step(outputs=["xs"])
def make():
    print("making four")
    return [1, 2, 3, 4]


@step(inputs=["xs"], outputs=["sq"], foreach="xs")
def square(xs):
    current.metrics({"input": xs})
    return xs * xs


@step(inputs=["sq"], outputs=["total"])
def total(sq, fail_flag: str = ""):
    if fail_flag and os.path.exists(fail_flag):
        raise RuntimeError("not yet")
    return sum(sq)


pipeline("squares", steps=[make, square, total])
"""


def _failed_run(tmp_path: Path) -> tuple[str, Path]:
    """A run that failed at `total` (so that it can be resumed), its id and its store."""
    flow = tmp_path / "squares.py"
    flow.write_text(FLOW)
    flag = tmp_path / "fail"
    flag.write_text("")
    store = tmp_path / "store"
    ran = run("run", str(flow), "-q", "--store", str(store), "-p", f"fail_flag={flag}", cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    flag.unlink()
    (run_dir,) = (store / "runs").iterdir()
    # A runner that closed cleanly checkpointed its WAL: only stepc.db is left, as in a copy.
    assert not (store / "stepc.db-wal").exists() and not (store / "stepc.db-shm").exists()
    return json.loads((run_dir / "run.json").read_text())["run_id"], store


READS = {
    ("runs",): "squares",
    ("show", "{run}"): "square",
    ("show", "{run}", "--json"): '"rollbacks"',
    ("logs", "{run}", "make"): "making four",
    ("artifacts", "{run}", "square"): "sq",
    ("artifact", "{run}", "square", "sq", "--item", "3"): "16",
    ("metrics", "{run}", "--json"): '"metric": "input"',
}

CLIENT = """
import stepc
run = stepc.Run("latest", store={store!r})
print(run.status, run.params["fail_flag"] != "", [t.artifacts["sq"] for t in run["square"].items])
print([t.metrics for t in run["square"].items][1], run["make"].task.logs().strip())
print([r.run_id for r in stepc.runs(store={store!r})] == [run.run_id])
"""


def test_every_read_command_and_the_client_read_a_read_only_store(tmp_path: Path) -> None:
    run_id, store = _failed_run(tmp_path)
    before = snapshot(store)
    prefix = read_only(store)
    for args, expected in READS.items():
        got = run(*(a.format(run=run_id) for a in args), "--store", str(store), cwd=tmp_path, prefix=prefix)
        assert got.returncode == 0, (args, got.stderr)
        assert expected in got.stdout, (args, got.stdout)
        assert got.stderr == "", (args, got.stderr)
    client = run("-c", CLIENT.format(store=str(store)), cwd=tmp_path, prefix=prefix)
    assert client.returncode == 0, client.stderr
    assert client.stdout.splitlines() == ["failed True [1, 4, 9, 16]", "{'input': 2} making four", "True"]
    writable_again(store)
    assert snapshot(store) == before  # no -shm, no -wal, no migrated schema: nothing written


def test_commands_that_write_say_in_one_line_that_the_store_is_read_only(tmp_path: Path) -> None:
    run_id, store = _failed_run(tmp_path)
    before = snapshot(store)
    prefix = read_only(store)
    flow = str(tmp_path / "squares.py")
    writers = {
        "stepc run": ("run", flow, "-q"),
        "stepc resume": ("resume", run_id, "-q"),
        "stepc exec": ("exec", flow, "--step", "total", "--run-id", run_id),
        "stepc store repair": ("store", "repair"),
    }
    for command, args in writers.items():
        got = run(*args, "--store", str(store), cwd=tmp_path, prefix=prefix)
        assert got.returncode == 1, (args, got.stdout, got.stderr)
        assert got.stderr.startswith(f"error: the store at {store} is read-only ("), got.stderr
        assert f"`{command}` writes there" in got.stderr
        assert len(got.stderr.splitlines()) == 1 and "Traceback" not in got.stderr
    writable_again(store)
    assert snapshot(store) == before
    # Once writable again, the same run resumes and finishes.
    resumed = run("resume", run_id, "-q", "--store", str(store), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    total = run("artifact", run_id, "total", "total", "--store", str(store), cwd=tmp_path)
    assert json.loads(total.stdout) == 30


UNCHECKPOINTED = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("UPDATE runs SET error = 'changed since'")
os._exit(0)  # as a killed runner does: the change is in stepc.db-wal only
"""


def test_a_read_only_copy_without_its_wal_index_is_read_with_a_warning(tmp_path: Path) -> None:
    run_id, store = _failed_run(tmp_path)
    wrote = run("-c", UNCHECKPOINTED, str(store / "stepc.db"), cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert (store / "stepc.db-wal").stat().st_size > 0
    (store / "stepc.db-shm").unlink()  # a copy that left the index out: SQLite cannot rebuild it read-only
    prefix = read_only(store)
    listed = run("runs", "--store", str(store), cwd=tmp_path, prefix=prefix)
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    wal = store / "stepc.db-wal"
    assert (
        listed.stderr
        == f"stepc: warning: {wal} cannot be read here: the newest changes to the run index may not show\n"
    )
