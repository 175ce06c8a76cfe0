"""``stepc store repair``: rebuild the run database from the files under ``runs/``.

The database is an index; the store's files are the truth (every task commits ``result.json``
after its outputs, a failed attempt leaves ``status.<n>.json``). A database that cannot be read
is moved aside (``stepc.db.corrupt-<time>``), never deleted, and a new one is filled from the
files: runs from ``run.json``, steps and attempts from the results. What the files cannot say
is left out: a rebuilt run is ``repaired`` (whether it had finished is not recorded in files),
and the cache starts empty (a miss costs a rerun, a wrong hit would cost a wrong result).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from stepc.interpreter.rundb import RunDB
from stepc.runtime.layout import is_cut
from stepc.runtime.store import Store, TaskResult


@dataclass(frozen=True)
class Repaired:
    """What a repair did: where the old database went (None if there was none) and what the
    new one holds."""

    moved_to: str | None
    runs: int
    tasks: int


def repair(store: Store) -> Repaired:
    """Move the database aside and index ``store``'s runs again."""
    moved_to = None
    if store.db_path.exists():
        target = store.db_path.with_name(f"{store.db_path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        store.db_path.rename(target)
        for suffix in ("-wal", "-shm"):  # SQLite's side files belong to the old database
            side = store.db_path.with_name(store.db_path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        moved_to = str(target)
    db = RunDB(store.db_path)
    runs = tasks = 0
    try:
        runs_dir = store.root / "runs"
        for run_dir in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
            info = _read(run_dir / "run.json") if is_cut(run_dir.name) else store.read_run(unquote(run_dir.name))
            if not isinstance(info, dict) or "run_id" not in info:
                continue
            run_id = str(info["run_id"])
            tasks += _index_run(db, store, run_id, info)
            runs += 1
    finally:
        db.close()
    return Repaired(moved_to, runs, tasks)


def _index_run(db: RunDB, store: Store, run_id: str, info: dict[str, Any]) -> int:
    given = info.get("params")
    params: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    db.start_run(run_id, str(info.get("pipeline", "")), str(info.get("flow", "")), params, 0, "", 0)
    started: list[float] = []
    count = 0
    for step_dir in sorted(p for p in store.run_dir(run_id).iterdir() if p.is_dir()):
        step = _step_name(step_dir) if is_cut(step_dir.name) else unquote(step_dir.name)
        if step is None:
            continue
        results: list[TaskResult] = store.committed(run_id, step)
        if not results:
            continue
        count += len(results)
        for result in results:
            db.record_attempt(
                run_id,
                step,
                result.item,
                result.attempt,
                status=result.status,
                started=result.started,
                ended=result.ended,
                duration=result.ended - result.started,
                exit_code=result.exit_code,
                cached=int(result.cached),
                outputs=[m.id for m in result.outputs],
                error=result.error,
                log=store.relative(store.log_path(run_id, step, result.item, result.attempt)),
            )
        first = min(r.started for r in results)
        last = max(r.ended for r in results)
        started.append(first)
        items = [r for r in results if r.item is not None]
        status = "skipped" if all(r.status == "skipped" for r in results) else "succeeded"
        db.set_step(
            run_id,
            step,
            status=status,
            started=first,
            ended=last,
            duration=last - first,
            attempts=max(r.attempt for r in results),
            cached=int(all(r.cached for r in results)),
            items=len(items) if items else None,
        )
    db.conn.execute(
        "UPDATE runs SET status='repaired', started=?, params=? WHERE run_id=?",
        (min(started, default=time.time()), json.dumps(params, sort_keys=True), run_id),
    )
    return count


def _step_name(step_dir: Path) -> str | None:
    """The name of the step of a folder whose name was cut short, from a result it holds."""
    for path in sorted(step_dir.rglob("result*.json")):
        result = _read(path)
        if isinstance(result, dict) and isinstance(result.get("step"), str):
            return str(result["step"])
    return None


def _read(path: Path) -> Any:
    """The JSON of a file, None when it cannot be read (a folder whose name was cut)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
