"""``stepc exec``: from command-line arguments to one executed task and a control line.

A backend runs ``python -m stepc exec flow.py --step NAME --run-id ID [--item K] --store URL
[--params JSON]``. Upstream results are read from the store's ``result.json`` files; a producer
without a result whose condition is false was skipped, so an optional input gets ``None``.
The control line printed last on stdout is one JSON object, for example::

    {"status": "succeeded", "step": "make_grid", "item": null, "attempt": 1, "run_id": "...",
     "outputs": {"grid": "<artifact id>"}, "foreach": {"grid": {"count": 3, "items": [0, 1, 2]}}}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from stepc.ir import Pipeline
from stepc.runtime.exec import execute
from stepc.runtime.plan import MissingInput, ResultLookup, condition_holds, item_count, make_task, should_skip
from stepc.runtime.store import Store, TaskResult


def store_lookup(pipeline: Pipeline, store: Store, run_id: str, params: Mapping[str, Any]) -> ResultLookup:
    """Results as a backend leaves them: files, with skips inferred from conditions."""
    memo: dict[tuple[str, int | None], TaskResult | None] = {}

    def lookup(step: str, item: int | None) -> TaskResult | None:
        key = (step, item)
        if key not in memo:
            result = store.read_result(run_id, step, item)
            if result is None and item in (None, 0) and not condition_holds(pipeline.step(step), params, store, lookup):
                result = TaskResult("skipped", step, item, 0, 0.0, 0.0)
            memo[key] = result
        return memo[key]

    return lookup


def control(result: TaskResult, run_id: str) -> dict[str, Any]:
    """The control message of a finished task."""
    return {
        "status": result.status,
        "run_id": run_id,
        "step": result.step,
        "item": result.item,
        "attempt": result.attempt,
        "outputs": {meta.name: meta.id for meta in result.outputs},
        "foreach": {name: {"count": n, "items": list(range(n))} for name, n in result.counts.items()},
        "error": result.error,
    }


def exec_task(
    pipeline: Pipeline,
    flow_path: str,
    step_name: str,
    run_id: str,
    store: Store,
    params: Mapping[str, Any],
    item: int | None = None,
    attempt: int | None = None,
) -> tuple[dict[str, Any], int]:
    """Run one attempt as ``stepc exec`` does; returns the control message and the exit code
    (0 succeeded or skipped, 1 the step failed, 2 it could not start)."""
    step = pipeline.step(step_name)
    lookup = store_lookup(pipeline, store, run_id, params)
    number = attempt if attempt is not None else max(store.attempt_numbers(run_id, step.name, item), default=0) + 1
    if should_skip(pipeline, step, params, store, lookup):
        now = time.time()
        skipped = TaskResult("skipped", step.name, item, number, now, now)
        store.commit(run_id, skipped)
        return control(skipped, run_id), 0
    try:
        if step.foreach is not None:
            if item is None:
                raise MissingInput(f"step '{step.name}' is a foreach step: pass --item K")
            count = item_count(pipeline, step, params, lookup)
            if not 0 <= item < count:
                raise MissingInput(f"item {item} is out of range: step '{step.name}' has {count} items")
        task = make_task(pipeline, step, item, number, run_id, params, lookup)
    except MissingInput as exc:
        message = {"status": "error", "run_id": run_id, "step": step.name, "item": item, "error": str(exc)}
        return message, 2
    result = execute(task, store, flow_path, pipeline.module)
    return control(result, run_id), 0 if result.status == "succeeded" else 1
