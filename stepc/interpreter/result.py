"""What a run returns to Python callers: per-step status, timing, cache flag and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stepc.items import Item, sort_key
from stepc.runtime.store import Store, TaskResult


@dataclass(frozen=True)
class StepResult:
    """One step of a finished run. ``outputs`` are read from the store on first access; for a
    foreach step each output is the list of its items' values, in item order. A class-dialect
    step saves only the attributes it set: an output no task saved is left out, and an item
    that did not save it shows ``None`` in the list."""

    name: str
    status: str  # succeeded | failed | skipped | not_run
    duration: float | None = None
    cached: bool = False
    attempts: int = 0
    items: int | None = None
    error: str | None = None
    results: tuple[TaskResult, ...] = ()
    output_names: tuple[str, ...] = ()
    store: Store | None = field(default=None, repr=False, compare=False)
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def outputs(self) -> dict[str, Any]:
        if not self._loaded and self.store is not None and self.status == "succeeded":
            store = self.store
            if self.items is None and self.results:
                for meta in self.results[0].outputs:
                    self._loaded[meta.name] = store.read_artifact(meta)
            elif self.items is not None:
                ordered = sorted(self.results, key=lambda r: sort_key(r.item))
                for name in self.output_names:
                    metas = [next((m for m in r.outputs if m.name == name), None) for r in ordered]
                    if any(meta is not None for meta in metas) or not ordered:
                        self._loaded[name] = [None if m is None else store.read_artifact(m) for m in metas]
        return self._loaded


@dataclass(frozen=True)
class RunResult:
    """A finished run: ``status`` is ``succeeded``, ``failed``, or ``interrupted`` by the
    ``signal`` (SIGINT or SIGTERM) that stopped it."""

    run_id: str
    pipeline: str
    status: str
    steps: dict[str, StepResult]
    store_root: str
    error: str | None = None
    rollbacks: tuple[tuple[str, Item, str], ...] = ()  # (step, item, status) in order run
    signal: int | None = None

    @property
    def exit_code(self) -> int:
        """The shell's convention: 0, 1 for a failure, 128 + the signal for an interrupted run."""
        return 0 if self.ok else 128 + self.signal if self.signal else 1

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]
