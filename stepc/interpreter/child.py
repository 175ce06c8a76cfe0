"""What a forked child runs (one task, a group's tasks back to back, a rollback), and how the
runner describes a child that ended without saying why."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stepc.ir import Pipeline, Step
from stepc.items import Item
from stepc.runtime.context import read_rollback_data
from stepc.runtime.exec import call_rollback, captured, execute, user_traceback
from stepc.runtime.plan import ResultLookup, Task, make_task
from stepc.runtime.store import Store, TaskResult
from stepc.runtime.supervisor import step_limit

Body = Callable[[], int]


def task_body(task: Task, store: Store, flow_path: str, module: str) -> Body:
    """Run one task; exit 0 when it succeeded."""

    def body() -> int:
        return 0 if execute(task, store, flow_path, module).status == "succeeded" else 1

    return body


def group_body(
    pipeline: Pipeline,
    batch: list[Step],
    first: Task,
    attempts: Mapping[str, int],
    params: Mapping[str, Any],
    lookup: ResultLookup,
    store: Store,
    flow_path: str,
) -> Body:
    """Run the steps of a group one after the other in this one process, each with its own
    log, result and time limit (enforced by the attempt's supervisor); stop at the first
    failure. Inputs made earlier in the batch are bound from the results in hand."""

    def body() -> int:
        made: dict[tuple[str, Item], TaskResult] = {}

        def local(step: str, item: Item) -> TaskResult | None:
            return made.get((step, item)) or lookup(step, item)

        for index, step in enumerate(batch):
            task = first
            if index:
                task = make_task(pipeline, step, None, attempts[step.name], first.run_id, params, local)
            # The supervisor stops the process when this step overruns: no signal for the step
            # to ignore (as SIGALRM could be).
            step_limit(step.timeout)
            result = execute(task, store, flow_path, pipeline.module)
            step_limit(None)
            made[(step.name, None)] = result
            if result.status != "succeeded":
                return 1
        return 0

    return body


def rollback_body(
    ref: str, run_id: str, result: TaskResult, store: Store, flow_path: str, module: str, log: Path
) -> Body:
    """Call a rollback with the task's outputs (and its rollback data) as keyword arguments,
    logging to ``log``."""

    def body() -> int:
        with captured(log):
            try:
                outputs = {meta.name: store.read_artifact(meta) for meta in result.outputs}
                data = read_rollback_data(store, run_id, result.step, result.item)
                call_rollback(ref, flow_path, module, outputs, data)
            except BaseException as exc:
                sys.stderr.write(user_traceback(exc))
                return 1
        return 0

    return body


def last_line(path: Path) -> str | None:
    """The last non-empty line of a log (a traceback's last line names the error)."""
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return None
    return lines[-1] if lines else None
