"""Past runs from Python, as Metaflow's Client reads them: ``stepc.Run("latest")``.

    run = stepc.Run("latest")                 # or a run id, or a unique prefix of one
    run.status, run.params
    run["train"].items[0].artifacts["model"]  # a foreach step's tasks, in item order
    run["evaluate"].artifacts["report"]       # a plain step's one task
    run["train"].items[1].logs()              # the last attempt's log; .metrics too
    stepc.runs(store=...)                     # newest first

Everything is read from the store (``.stepc/`` of the project, or ``store=``) when asked for:
artifacts are loaded one by one on first access, never all at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from stepc.interpreter.rundb import RunDB
from stepc.items import item_text, sort_key
from stepc.runtime.context import read_task_json
from stepc.runtime.store import Store, TaskResult, open_store


def _store(store: str | os.PathLike[str] | None) -> Store:
    return open_store(store, Path.cwd() / "flow.py")


class Artifacts(Mapping[str, Any]):
    """A task's outputs by name, each read from the store on first access."""

    def __init__(self, store: Store, result: TaskResult) -> None:
        self._store = store
        self._metas = {meta.name: meta for meta in result.outputs}
        self._values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            if name not in self._metas:
                raise KeyError(f"no output {name!r} (outputs: {', '.join(sorted(self._metas)) or 'none'})")
            self._values[name] = self._store.read_artifact(self._metas[name])
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metas)

    def __len__(self) -> int:
        return len(self._metas)


class Task:
    """One task of a step (the step's only one, or one foreach item)."""

    def __init__(self, store: Store, run_id: str, result: TaskResult) -> None:
        self._store = store
        self.run_id = run_id
        self.result = result

    @property
    def step(self) -> str:
        return self.result.step

    @property
    def item(self) -> str | None:
        """The item as ``--item`` spells it (``2``, ``1/0``), None for a plain step."""
        return None if self.result.item is None else item_text(self.result.item)

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def attempt(self) -> int:
        return self.result.attempt

    @cached_property
    def artifacts(self) -> Artifacts:
        return Artifacts(self._store, self.result)

    @property
    def metrics(self) -> dict[str, Any]:
        """What the task recorded with ``current.metrics``."""
        return read_task_json(self._store, self.run_id, self.step, self.result.item, "metrics.json")

    def logs(self, attempt: int | None = None) -> str:
        """The log of an attempt (default: the last one)."""
        numbers = self._store.attempt_numbers(self.run_id, self.step, self.result.item)
        number = attempt or (numbers[-1] if numbers else self.attempt)
        path = self._store.log_path(self.run_id, self.step, self.result.item, number)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def __repr__(self) -> str:
        where = "" if self.item is None else f"[{self.item}]"
        return f"Task({self.step}{where}, {self.status})"


class RunStep:
    """One step of a run: its tasks (``items`` for a foreach step, in item order)."""

    def __init__(self, store: Store, run_id: str, name: str, row: dict[str, Any] | None) -> None:
        self._store = store
        self.run_id = run_id
        self.name = name
        self._row = row or {}

    @property
    def status(self) -> str:
        return str(self._row.get("status") or ("succeeded" if self.items else "not_run"))

    @cached_property
    def items(self) -> list[Task]:
        results: list[TaskResult] = self._store.committed(self.run_id, self.name)
        results.sort(key=lambda r: sort_key(r.item))
        return [Task(self._store, self.run_id, r) for r in results]

    @property
    def task(self) -> Task:
        """The step's one task (a plain step); a foreach step has ``items``."""
        plain = [t for t in self.items if t.result.item is None]
        if not plain:
            raise LookupError(f"step '{self.name}' has no task of its own (a foreach step: use .items)")
        return plain[0]

    @property
    def artifacts(self) -> Artifacts:
        return self.task.artifacts

    def __repr__(self) -> str:
        return f"RunStep({self.name}, {self.status}, {len(self.items)} task(s))"


class Run:
    """A run of the store: ``"latest"``, a run id or a unique prefix of one."""

    def __init__(self, run_id: str = "latest", store: str | os.PathLike[str] | Store | None = None) -> None:
        self._store = store if isinstance(store, Store) else _store(store)
        if not self._store.db_path.exists():
            raise LookupError(f"no runs in {self._store.root}")
        db = RunDB.reader(self._store.db_path)
        try:
            newest = db.runs(1)
            row = (newest[0] if newest else None) if run_id in ("latest", "last") else db.run(run_id)
            if row is None:
                raise LookupError(f"no run {run_id!r} in {self._store.root}")
            self._row = row
            self._steps = {s["step"]: s for s in db.steps(row["run_id"])}
        finally:
            db.close()

    @property
    def run_id(self) -> str:
        return str(self._row["run_id"])

    @property
    def pipeline(self) -> str:
        return str(self._row["pipeline"])

    @property
    def flow(self) -> str:
        return str(self._row["flow"])

    @property
    def status(self) -> str:
        return str(self._row["status"])

    @property
    def error(self) -> str | None:
        return self._row.get("error")

    @property
    def params(self) -> dict[str, Any]:
        return dict(json.loads(self._row["params"]))

    @property
    def steps(self) -> list[str]:
        """The steps that started, in the order they did."""
        return list(self._steps)

    def __getitem__(self, step: str) -> RunStep:
        if step not in self._steps and not self._store.step_dir(self.run_id, step).is_dir():
            raise KeyError(f"no step {step!r} in run {self.run_id} (steps: {', '.join(self._steps)})")
        return RunStep(self._store, self.run_id, step, self._steps.get(step))

    def __repr__(self) -> str:
        return f"Run({self.run_id}, {self.pipeline}, {self.status})"


def runs(store: str | os.PathLike[str] | None = None, limit: int = 50) -> list[Run]:
    """The store's runs, newest first."""
    the_store = _store(store)
    if not the_store.db_path.exists():
        return []
    db = RunDB.reader(the_store.db_path)
    try:
        ids = [row["run_id"] for row in db.runs(limit)]
    finally:
        db.close()
    return [Run(run_id, the_store) for run_id in ids]


__all__ = ["Artifacts", "Run", "RunStep", "Task", "runs"]
