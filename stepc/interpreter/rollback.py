"""Rollbacks after a failed run: which tasks to undo, in which order, and running them.

Every task that succeeded in this run (a cache hit did nothing to undo) and whose step names a
``rollback`` is undone, most recently finished first. Each rollback runs in its own child, so
one that fails or crashes does not stop the others. A task undone successfully is uncommitted:
``stepc resume`` runs it again.
"""

from __future__ import annotations

from stepc.config import DEFAULT_KILL_GRACE
from stepc.interpreter.child import last_line, rollback_body
from stepc.interpreter.follow import LogFollower
from stepc.interpreter.progress import Reporter
from stepc.interpreter.rundb import RunDB
from stepc.ir import Step
from stepc.items import Item, item_text
from stepc.runtime.processes import describe_exit, run_in_child
from stepc.runtime.store import Store, TaskResult


def run_rollbacks(
    todo: list[tuple[Step, TaskResult]],
    run_id: str,
    store: Store,
    db: RunDB,
    flow_path: str,
    module: str,
    reporter: Reporter,
    grace: float = DEFAULT_KILL_GRACE,
) -> list[tuple[str, Item, str]]:
    """Run each rollback in turn, best effort; returns (step, item, status) in the order run."""
    outcome: list[tuple[str, Item, str]] = []
    for step, result in todo:
        assert step.rollback is not None
        log = store.task_dir(run_id, step.name, result.item) / "rollback.log"
        started = db.now()
        body = rollback_body(step.rollback, run_id, result, store, flow_path, module, log)
        code = run_in_child(body, step.timeout, grace)
        status = "succeeded" if code == 0 else "failed"
        error = None
        if code == 0:
            store.uncommit(run_id, step.name, result.item)
        else:
            error = last_line(log) or describe_exit(code, False, None, None)
        db.record_rollback(run_id, step.name, result.item, status, started, error, store.relative(log))
        if reporter.streams:  # what the rollback printed, as a step's output is shown
            where = step.name if result.item is None else f"{step.name}/{item_text(result.item)}"
            shown = LogFollower()
            shown.follow(log, f"{where} rollback")
            text = shown.close(log)
            if text:
                reporter.output(text)
        reporter.rollback(step.name, result.item, status)
        outcome.append((step.name, result.item, status))
    return outcome
