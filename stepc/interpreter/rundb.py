"""The run database: runs, steps, attempts, rollbacks and the cache index, in SQLite.

Only runner processes write here (step processes write files); WAL mode and a busy timeout
let several runs share one store. Every attempt row carries its lineage: the ids of the
artifacts it read and wrote. The commands that only read open it read-only (:meth:`RunDB.reader`),
so that a store copied from CI or mounted read-only can be looked at. A database that fails is
a :class:`~stepc.runtime.faults.StoreError` naming it, never a bare ``sqlite3`` error.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stepc.items import Item, item_from_json, item_text, sort_key
from stepc.runtime.faults import StoreError, StoreFull, no_room
from stepc.runtime.store import warn

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, flow TEXT NOT NULL, status TEXT NOT NULL,
    params TEXT NOT NULL, started REAL NOT NULL, ended REAL, pid INTEGER, host TEXT,
    workers INTEGER, error TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL, started REAL, ended REAL,
    duration REAL, attempts INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0,
    items INTEGER, error TEXT, PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL, step TEXT NOT NULL, item TEXT NOT NULL, attempt INTEGER NOT NULL,
    status TEXT NOT NULL, started REAL, ended REAL, duration REAL, exit_code INTEGER,
    cached INTEGER NOT NULL DEFAULT 0, cache_key TEXT, code_hash TEXT, params TEXT,
    inputs TEXT, outputs TEXT, error TEXT, log TEXT,
    PRIMARY KEY (run_id, step, item, attempt)
);
CREATE TABLE IF NOT EXISTS rollbacks (
    run_id TEXT NOT NULL, step TEXT NOT NULL, item TEXT NOT NULL, status TEXT NOT NULL,
    started REAL, ended REAL, error TEXT, log TEXT
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY, run_id TEXT NOT NULL, step TEXT NOT NULL, item TEXT NOT NULL,
    result TEXT NOT NULL, created REAL NOT NULL
);
"""

NO_ITEM = ""  # "not a foreach item", so that keys stay unique (an item is stored as its path, 1/0)


def _item(item: Item) -> str:
    return NO_ITEM if item is None else item_text(item)


class RunDB:
    """A connection to ``stepc.db``; methods are one statement each, autocommitted."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        with self._guard():
            self.conn = _open_readonly(path) if readonly else _open_writable(path)
        self.conn.row_factory = sqlite3.Row

    @classmethod
    def reader(cls, path: Path) -> RunDB:
        """The database opened for reading only: nothing is created, migrated or written, so a
        store the user may not write (permissions, a read-only mount) can still be read."""
        return cls(path, readonly=True)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn an SQLite failure into a :class:`StoreError` that names the database."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _problem(self.path, exc) from exc

    def _write(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> None:
        with self._guard():
            self.conn.execute(sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._guard():
            return self.conn.execute(sql, args).fetchall()

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def now() -> float:
        return time.time()

    # --- writes --------------------------------------------------------------------------

    def start_run(
        self, run_id: str, pipeline: str, flow: str, params: dict[str, Any], pid: int, host: str, workers: int
    ) -> None:
        self._write(
            "INSERT INTO runs (run_id, pipeline, flow, status, params, started, pid, host, workers)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)"
            " ON CONFLICT(run_id) DO UPDATE SET status='running', ended=NULL, pid=excluded.pid,"
            " host=excluded.host, workers=excluded.workers, error=NULL",
            (run_id, pipeline, flow, json.dumps(params, sort_keys=True), time.time(), pid, host, workers),
        )

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        self._write("UPDATE runs SET status=?, ended=?, error=? WHERE run_id=?", (status, time.time(), error, run_id))

    def set_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update a step row with the given columns."""
        names = list(fields)
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{n}=excluded.{n}" for n in names) or "status=status"
        self._write(
            f"INSERT INTO steps (run_id, step, {', '.join(names)}) VALUES (?, ?, {placeholders})"
            f" ON CONFLICT(run_id, step) DO UPDATE SET {updates}",
            (run_id, step, *fields.values()),
        )

    def record_attempt(self, run_id: str, step: str, item: Item, attempt: int, **fields: Any) -> None:
        names = list(fields)
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{n}=excluded.{n}" for n in names)
        values = [
            json.dumps(v, sort_keys=True, default=_unrecorded) if n in ("params", "inputs", "outputs") else v
            for n, v in fields.items()
        ]
        self._write(
            f"INSERT INTO attempts (run_id, step, item, attempt, {', '.join(names)})"
            f" VALUES (?, ?, ?, ?, {placeholders}) ON CONFLICT(run_id, step, item, attempt) DO UPDATE SET {updates}",
            (run_id, step, _item(item), attempt, *values),
        )

    def record_rollback(
        self, run_id: str, step: str, item: Item, status: str, started: float, error: str | None, log: str
    ) -> None:
        self._write(
            "INSERT INTO rollbacks (run_id, step, item, status, started, ended, error, log) VALUES (?,?,?,?,?,?,?,?)",
            (run_id, step, _item(item), status, started, time.time(), error, log),
        )

    def cache_put(self, key: str, run_id: str, step: str, item: Item, result: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO cache (key, run_id, step, item, result, created) VALUES (?,?,?,?,?,?)",
            (key, run_id, step, _item(item), json.dumps(result, sort_keys=True), time.time()),
        )

    def cache_drop(self, key: str) -> None:
        self._write("DELETE FROM cache WHERE key=?", (key,))

    # --- reads ---------------------------------------------------------------------------

    def cache_get(self, key: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT result FROM cache WHERE key=?", (key,))
        return dict(json.loads(rows[0]["result"])) if rows else None

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        found = self._rows("SELECT * FROM runs WHERE run_id=?", (run_id,))
        row = found[0] if found else None
        if row is None:
            # A unique prefix is enough, as with git hashes.
            prefix = run_id.replace("%", "") + "%"
            rows = self._rows("SELECT * FROM runs WHERE run_id LIKE ? ORDER BY run_id", (prefix,))
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else dict(row)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM steps WHERE run_id=? ORDER BY started, step", (run_id,))
        return [dict(r) for r in rows]

    def attempts(self, run_id: str, step: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM attempts WHERE run_id=?"
        args: tuple[Any, ...] = (run_id,)
        if step is not None:
            query += " AND step=?"
            args += (step,)
        rows = self._rows(query, args)
        out = []
        for r in sorted(rows, key=lambda r: (r["step"], sort_key(item_from_json(r["item"])), r["attempt"])):
            d = dict(r)
            d["item"] = None if d["item"] == NO_ITEM else d["item"]
            for key in ("params", "inputs", "outputs"):
                d[key] = json.loads(d[key]) if d[key] else None
            out.append(d)
        return out

    def rollbacks(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM rollbacks WHERE run_id=? ORDER BY started", (run_id,))
        return [{**dict(r), "item": r["item"] or None} for r in rows]


def _open_writable(path: Path) -> sqlite3.Connection:
    """The runner's connection: creates the database and its tables when they are not there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    # Switching a new database to WAL takes an exclusive lock and SQLite does not wait for
    # it (the busy timeout does not apply), so two runs starting at once on a fresh store
    # would see "database is locked": retry for a bounded time instead.
    deadline = time.monotonic() + 30.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            return conn
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection. ``mode=ro`` still needs the WAL index (``-shm``) beside the
    database, which a read-only folder cannot get; then ``immutable=1``, which reads the
    database file alone (what a run that closed cleanly left: its WAL was checkpointed)."""
    with open(path, "rb"):  # SQLite would say "unable to open": let the OS say why (a folder, no permission)
        pass
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if not exc.sqlite_errorname.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            raise
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        warn(f"{wal} cannot be read here: the newest changes to the run index may not show")
    conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _problem(path: Path, exc: sqlite3.Error) -> StoreError:
    """The one line for an SQLite failure of the run database at ``path``."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR"):
        # SQLite says "disk I/O error" for a write the file size limit stopped: ask the system.
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
        full = no_room(files)
        if full is not None or name == "SQLITE_FULL":
            return StoreFull(path.parent, full or str(exc), f"the run database {path.name}")
    if name.startswith("SQLITE_READONLY"):
        return StoreError(f"the run database {path} cannot be written ({exc})")
    if name.startswith("SQLITE_BUSY"):
        return StoreError(f"the run database {path} is locked by another process ({exc}); try again")
    return StoreError(
        f"the run database {path} is unusable ({exc}): its index can be rebuilt from the files under runs/ "
        "with `stepc store repair`"
    )


def runner_alive(row: dict[str, Any]) -> bool:
    """Whether the runner of a run that says ``running`` is still there (on this host; a run
    started elsewhere is taken at its word)."""
    if row["status"] != "running" or not row["pid"]:
        return False
    if row["host"] != socket.gethostname():
        return True
    try:
        os.kill(int(row["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unrecorded(value: Any) -> str:
    """What the index says of a value JSON cannot hold (the bytes of a binary IncludeFile)."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    raise TypeError(f"{type(value).__name__} is not JSON")
