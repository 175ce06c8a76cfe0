"""``from stepc import current``: the running step's own view of itself, and what it reports.

Inside a step, ``current`` holds the run id, the step, the foreach item (``1/0``, or None), the
attempt number and the parameter values, and takes three kinds of report, each written to the
task's folder in the store, so that it works the same under ``stepc run`` and under ``stepc
exec`` on every engine:

* ``current.progress(done, total)``: ``progress.json``; the live display of ``stepc run``
  moves the step's bar by it (weighted by the step's ``weight``);
* ``current.metrics({"loss": 0.1})``: merged into ``metrics.json``; ``stepc show`` and
  ``stepc metrics RUN`` list them per step and item;
* ``current.log("epoch", {"n": 3})``: one JSON line in ``events.jsonl``;
* ``current.rollback_data(value)``: ``rollback-data.json`` (or ``.pkl``), what the step's
  rollback needs to undo it (an id it created, a path): the rollback gets it as the keyword
  argument ``rollback_data`` when it takes one (None when the step saved nothing).

Reports must be JSON values; anything else is a TypeError at the call, in the step's traceback
(rollback data may be anything an artifact may be).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepc.items import item_text

if TYPE_CHECKING:
    from stepc.runtime.plan import Task
    from stepc.runtime.store import Store

ROLLBACK_DATA = "rollback-data"  # the file stem of what a step keeps for its rollback
PROGRESS_EVERY = 0.2  # seconds between progress writes: a tight loop must not write a file each time


@dataclass
class _Running:
    task: Task
    store: Store
    last_progress: float = 0.0


class Current:
    """The step running in this process (see the module docs); outside a step every read is a
    RuntimeError that says so."""

    def __init__(self) -> None:
        self._running: _Running | None = None

    def _enter(self, task: Task, store: Store) -> None:
        self._running = _Running(task, store)

    def _leave(self) -> None:
        self._running = None

    @property
    def _now(self) -> _Running:
        if self._running is None:
            raise RuntimeError("stepc.current is set only while a step runs (inside the step's function)")
        return self._running

    @property
    def run_id(self) -> str:
        return self._now.task.run_id

    @property
    def step(self) -> str:
        return self._now.task.step

    @property
    def item(self) -> str | None:
        """The foreach item as ``--item`` spells it (``2``, ``1/0``), None outside a foreach."""
        item = self._now.task.item
        return None if item is None else item_text(item)

    @property
    def attempt(self) -> int:
        return self._now.task.attempt

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values this step was given (a copy)."""
        return dict(self._now.task.params)

    def progress(self, done: float, total: float) -> None:
        """How far the step is: ``done`` of ``total`` (written at most every 0.2 s, and at the end)."""
        running = self._now
        now = time.monotonic()
        if done < total and now - running.last_progress < PROGRESS_EVERY:
            return
        running.last_progress = now
        self._write("progress.json", {"done": float(done), "total": float(total)})

    def metrics(self, values: Mapping[str, Any]) -> None:
        """Record metrics of this step (and item): merged with the ones recorded before."""
        path = self._path("metrics.json")
        known = _read(path)
        known.update({str(k): _plain(v, f"metric {k!r}") for k, v in values.items()})
        self._write("metrics.json", known)

    def log(self, event: str, data: Any = None) -> None:
        """Append one event (a name and JSON data) to the task's ``events.jsonl``."""
        running = self._now
        line = json.dumps(
            {"event": str(event), "data": _plain(data, f"event {event!r}"), "attempt": running.task.attempt,
             "time": time.time()},
            sort_keys=True,
        )  # fmt: skip
        path = self._path("events.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        running.store.publish(path)

    def rollback_data(self, value: Any) -> None:
        """Keep ``value`` for this task's rollback (the last call wins)."""
        from stepc.runtime import serialize
        from stepc.runtime.files import atomic_write

        data, fmt = serialize.dumps(value)
        for other in serialize.EXTENSIONS.values():  # one file, in the format of the last value
            self._path(ROLLBACK_DATA + other).unlink(missing_ok=True)
        path = self._path(ROLLBACK_DATA + serialize.EXTENSIONS[fmt])
        atomic_write(path, data)
        self._now.store.publish(path)

    def _path(self, name: str) -> Any:
        running = self._now
        return running.store.task_dir(running.task.run_id, running.task.location, running.task.item) / name

    def _write(self, name: str, data: Any) -> None:
        from stepc.runtime.files import write_json

        path = self._path(name)
        write_json(path, data)
        self._now.store.publish(path)


def _plain(value: Any, what: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"stepc.current: {what} must be a JSON value (str, number, bool, None, list, dict): {exc}"
        ) from None
    return value


def _read(path: Any) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_rollback_data(store: Store, run_id: str, step: str, item: Any) -> Any:
    """What the task saved with ``current.rollback_data`` (None when it saved nothing)."""
    from stepc.runtime import serialize

    for fmt, extension in serialize.EXTENSIONS.items():
        try:
            data = store._read(store.task_dir(run_id, step, item) / (ROLLBACK_DATA + extension))
        except FileNotFoundError:
            continue
        return serialize.loads(data, fmt)
    return None


def read_task_json(store: Store, run_id: str, step: str, item: Any, name: str) -> dict[str, Any]:
    """A task's ``metrics.json`` or ``progress.json`` as a dict ({} when there is none)."""
    try:
        data = json.loads(store._read(store.task_dir(run_id, step, item) / name))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


current = Current()
