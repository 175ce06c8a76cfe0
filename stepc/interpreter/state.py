"""What the runner knows about each step while a run goes on."""

from __future__ import annotations

from dataclasses import dataclass, field

from stepc.interpreter.result import StepResult
from stepc.ir import Step
from stepc.items import Item, sort_key
from stepc.runtime.store import Store, TaskResult


@dataclass
class StepState:
    """What the runner knows about one step during a run."""

    step: Step
    status: str = "pending"  # pending | active | succeeded | failed | skipped | not_run
    count: int | None = None  # tasks of a foreach step (every index path)
    results: dict[Item, TaskResult] = field(default_factory=dict)
    attempts: dict[Item, int] = field(default_factory=dict)  # last attempt number used
    tries: dict[Item, int] = field(default_factory=dict)  # attempts made by this runner (this pass)
    passes: dict[Item, int] = field(default_factory=dict)  # a recursive switch's current pass
    remaining: int = 0
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    ran: bool = False  # at least one task really ran (not a cache hit)

    def summary(self, store: Store) -> StepResult:
        """The step as the run's result reports it."""
        results = tuple(r for r in self.results.values() if r.status != "skipped")
        duration = None if self.started is None or self.ended is None else self.ended - self.started
        cached = bool(results) and not self.ran and all(r.cached for r in results)
        return StepResult(
            name=self.step.name,
            status=self.status,
            duration=duration,
            cached=cached,
            attempts=0 if cached else max(self.attempts.values(), default=0),  # a cache hit runs nothing
            items=self.count,
            error=self.error,
            results=tuple(sorted(results, key=lambda r: sort_key(r.item))),
            output_names=self.step.outputs,
            store=store,
        )
