"""Every read command, and the Python client, over broken stores: a store that is not there, a
database that is garbage, truncated or cannot be opened, result and run files that cannot be
read or are not JSON, a read-only store. Each either works or says what is wrong in one line
naming the store (exit 1), never with a traceback."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store_faults import read_only, run
from tests.test_store_readonly import CLIENT, FLOW, READS


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A store with one run that failed at its last step, to copy and break."""
    where = tmp_path_factory.mktemp("template")
    flow = where / "squares.py"
    flow.write_text(FLOW)
    flag = where / "fail"
    flag.write_text("")
    store = where / "store"
    ran = run("run", str(flow), "-q", "--store", str(store), "-p", f"fail_flag={flag}", cwd=where)
    assert ran.returncode == 1, ran.stderr
    (run_dir,) = (store / "runs").iterdir()
    return json.loads((run_dir / "run.json").read_text())["run_id"], store


def _unreadable(path: Path) -> None:
    """A file that cannot be read: no permissions, or, for root (whom modes do not stop), a
    directory where the file should be."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    path.unlink()
    path.mkdir()


def _run_dir(store: Path) -> Path:
    (run_dir,) = (store / "runs").iterdir()
    return run_dir


# The client raises: an error of stepc's (or the OS's, naming the file), never sqlite3's or json's.
PROBE = """
from stepc.runtime.faults import StoreError
try:
    exec({client!r})
except (StoreError, LookupError, OSError) as exc:
    print("refused:", type(exc).__name__, exc)
"""

BREAKS: dict[str, Callable[[Path], None]] = {
    "missing store": lambda store: shutil.rmtree(store),
    "garbage database": lambda store: (store / "stepc.db").write_bytes(b"not a database" * 300),
    "truncated database": lambda store: (store / "stepc.db").write_bytes((store / "stepc.db").read_bytes()[:1536]),
    "unreadable database": lambda store: _unreadable(store / "stepc.db"),
    "unreadable result": lambda store: _unreadable(_run_dir(store) / "square" / "items" / "1" / "result.json"),
    "unreadable log": lambda store: _unreadable(_run_dir(store) / "make" / "log.1.txt"),
    "run.json not JSON": lambda store: (_run_dir(store) / "run.json").write_text('{"flow": '),
    "result.json not JSON": lambda store: (_run_dir(store) / "make" / "result.json").write_bytes(b"\xff\xfe{"),
    "read-only store": lambda store: None,  # made read-only below, for the commands only
}


@pytest.mark.parametrize("broken", sorted(BREAKS))
def test_read_commands_over_a_broken_store_work_or_say_so_in_one_line(
    broken: str, template: tuple[str, Path], tmp_path: Path
) -> None:
    run_id, source = template
    store = tmp_path / "store"
    shutil.copytree(source, store)
    BREAKS[broken](store)
    prefix = read_only(store) if broken == "read-only store" else []
    outcomes = []
    for args in READS:
        got = run(*(a.format(run=run_id) for a in args), "--store", str(store), cwd=tmp_path, prefix=prefix)
        outcomes.append((args, got))
    client = run("-c", PROBE.format(client=CLIENT.format(store=str(store))), cwd=tmp_path, prefix=prefix)
    assert client.returncode == 0 and "Traceback" not in client.stderr, (broken, client.stderr)
    for args, got in outcomes:
        assert "Traceback" not in got.stderr, (broken, args, got.stderr)
        assert got.returncode in (0, 1), (broken, args, got.returncode, got.stderr)
        if got.returncode:
            lines = [ln for ln in got.stderr.splitlines() if not ln.startswith("stepc: warning:")]
            assert len(lines) == 1 and lines[0].startswith("error: "), (broken, args, got.stderr)
            assert str(store) in lines[0], (broken, args, lines[0])
    if broken == "read-only store":
        assert all(got.returncode == 0 for _, got in outcomes)
        assert client.returncode == 0, client.stderr
