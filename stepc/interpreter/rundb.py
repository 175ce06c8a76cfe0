"""The run database: runs, steps, attempts, rollbacks and the cache index, in SQLite.

Only runner processes write here (step processes write files); WAL mode and a busy timeout
let several runs share one store. Every attempt row carries its lineage: the ids of the
artifacts it read and wrote.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from stepc.items import Item, item_from_json, item_text, sort_key

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

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        # Switching a new database to WAL takes an exclusive lock and SQLite does not wait for
        # it (the busy timeout does not apply), so two runs starting at once on a fresh store
        # would see "database is locked": retry for a bounded time instead.
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def now() -> float:
        return time.time()

    # --- writes --------------------------------------------------------------------------

    def start_run(
        self, run_id: str, pipeline: str, flow: str, params: dict[str, Any], pid: int, host: str, workers: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO runs (run_id, pipeline, flow, status, params, started, pid, host, workers)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)"
            " ON CONFLICT(run_id) DO UPDATE SET status='running', ended=NULL, pid=excluded.pid,"
            " host=excluded.host, workers=excluded.workers, error=NULL",
            (run_id, pipeline, flow, json.dumps(params, sort_keys=True), time.time(), pid, host, workers),
        )

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        self.conn.execute(
            "UPDATE runs SET status=?, ended=?, error=? WHERE run_id=?", (status, time.time(), error, run_id)
        )

    def set_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update a step row with the given columns."""
        names = list(fields)
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{n}=excluded.{n}" for n in names) or "status=status"
        self.conn.execute(
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
        self.conn.execute(
            f"INSERT INTO attempts (run_id, step, item, attempt, {', '.join(names)})"
            f" VALUES (?, ?, ?, ?, {placeholders}) ON CONFLICT(run_id, step, item, attempt) DO UPDATE SET {updates}",
            (run_id, step, _item(item), attempt, *values),
        )

    def record_rollback(
        self, run_id: str, step: str, item: Item, status: str, started: float, error: str | None, log: str
    ) -> None:
        self.conn.execute(
            "INSERT INTO rollbacks (run_id, step, item, status, started, ended, error, log) VALUES (?,?,?,?,?,?,?,?)",
            (run_id, step, _item(item), status, started, time.time(), error, log),
        )

    def cache_put(self, key: str, run_id: str, step: str, item: Item, result: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO cache (key, run_id, step, item, result, created) VALUES (?,?,?,?,?,?)",
            (key, run_id, step, _item(item), json.dumps(result, sort_keys=True), time.time()),
        )

    def cache_drop(self, key: str) -> None:
        self.conn.execute("DELETE FROM cache WHERE key=?", (key,))

    # --- reads ---------------------------------------------------------------------------

    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT result FROM cache WHERE key=?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row["result"]))

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            # A unique prefix is enough, as with git hashes.
            rows = self.conn.execute(
                "SELECT * FROM runs WHERE run_id LIKE ? ORDER BY run_id", (run_id.replace("%", "") + "%",)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else dict(row)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM steps WHERE run_id=? ORDER BY started, step", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def attempts(self, run_id: str, step: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM attempts WHERE run_id=?"
        args: tuple[Any, ...] = (run_id,)
        if step is not None:
            query += " AND step=?"
            args += (step,)
        rows = self.conn.execute(query, args).fetchall()
        out = []
        for r in sorted(rows, key=lambda r: (r["step"], sort_key(item_from_json(r["item"])), r["attempt"])):
            d = dict(r)
            d["item"] = None if d["item"] == NO_ITEM else d["item"]
            for key in ("params", "inputs", "outputs"):
                d[key] = json.loads(d[key]) if d[key] else None
            out.append(d)
        return out

    def rollbacks(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM rollbacks WHERE run_id=? ORDER BY started", (run_id,)).fetchall()
        return [{**dict(r), "item": r["item"] or None} for r in rows]


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
