"""``stepc exec``: from command-line arguments to executed tasks and their control lines.

A backend runs ``python -m stepc exec flow.py --step NAME --run-id ID [--item K] --store URL
[--params JSON] [-p name=value]``. Upstream results are read from the store's ``result.json``
files. The engine starts a step only after its upstream tasks ended, so a producer without a
result was skipped: an optional input then gets ``None``, and a required one makes this step
skipped too when the producer's condition says so (or an error when nothing explains it).
The control line printed on stdout for each step is one JSON object, for example::

    {"status": "succeeded", "step": "make_grid", "item": null, "attempt": 1, "run_id": "...",
     "outputs": {"grid": "<artifact id>"}, "foreach": {"grid": {"count": 3, "items": [0, 1, 2]}},
     "error": null}

A step whose outputs a downstream condition reads (``ArtifactRef``) also reports their
values, so that an engine can skip a branch before starting it: ``"values": {"<step>": {"<output>":
<value>}}``, holding only plain values (str, int, bool, finite float, None) whose comparisons an
engine can reproduce exactly; anything else is left out and the consuming ``stepc exec`` decides.
A class-dialect step adds ``"next"`` (the steps ``self.next`` named), ``"switch"`` (the case a
switch chose) and ``"caught"`` (what ``@catch`` caught), when there are.

``--rollback`` runs the rollbacks of the run's succeeded tasks instead, newest first.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepc.config import DEFAULT_KILL_GRACE
from stepc.ir import Pipeline, Step
from stepc.items import Item, item_text, item_to_json
from stepc.runtime.context import read_rollback_data
from stepc.runtime.exec import call_rollback, captured, execute, user_traceback
from stepc.runtime.plan import (
    MissingInput,
    ResultLookup,
    Task,
    artifact_refs,
    condition_holds,
    foreach_outputs,
    item_count,
    item_paths,
    loops_again,
    make_task,
    pass_location,
    rollback_order,
    should_skip,
    skip_is_per_item,
)
from stepc.runtime.processes import Pool, describe_exit
from stepc.runtime.store import Store, TaskResult


def store_lookup(pipeline: Pipeline, store: Store, run_id: str, params: Mapping[str, Any]) -> ResultLookup:
    """Results as a backend leaves them: files, with skips inferred from conditions."""
    memo: dict[tuple[str, Item], TaskResult | None] = {}

    def lookup(step: str, item: Item) -> TaskResult | None:
        key = (step, item)
        if key not in memo:
            result = store.read_result(run_id, step, item)
            if result is None and item is not None:
                whole = lookup(step, None)  # a step skipped as a whole has one result, at the step
                result = whole if whole is not None and whole.status == "skipped" else None
            if result is None:
                ir_step = pipeline.step(step)
                whole_step = item is None and bool(ir_step.scope)
                try:
                    holds = whole_step and skip_is_per_item(pipeline, ir_step)
                    holds = holds or condition_holds(pipeline, ir_step, item, params, store, lookup)
                except (KeyError, MissingInput):  # a parameter or a task this step was not given
                    holds = True
                if not holds:
                    result = TaskResult("skipped", step, item, 0, 0.0, 0.0)
            memo[key] = result
        return memo[key]

    return lookup


def control(result: TaskResult, run_id: str) -> dict[str, Any]:
    """The control message of a finished task."""
    message: dict[str, Any] = {
        "status": result.status,
        "run_id": run_id,
        "step": result.step,
        "item": item_to_json(result.item),
        "attempt": result.attempt,
        "outputs": {meta.name: meta.id for meta in result.outputs},
        "foreach": {name: {"count": n, "items": list(range(n))} for name, n in result.counts.items()},
        "error": result.error,
    }
    # A class-dialect step also says where the flow went (as engines' logs show Metaflow's).
    for key in ("next", "switch", "caught"):
        value = getattr(result, key)
        if value is not None:
            message[key] = list(value) if key == "next" else value
    return message


def exec_task(
    pipeline: Pipeline,
    flow_path: str,
    step_name: str,
    run_id: str,
    store: Store,
    params: Mapping[str, Any],
    item: Item = None,
    attempt: int | None = None,
    retry: bool = False,
    iteration: int = 0,
    grace: float = DEFAULT_KILL_GRACE,
) -> tuple[dict[str, Any], int]:
    """Run one attempt as ``stepc exec`` does (with ``retry``, as many as the step's retry policy
    allows, waiting between them); returns the control message and the exit code (0 succeeded
    or skipped, 1 the step failed, 2 it could not start). ``iteration``: the pass of a recursive
    switch, which reads the pass before it; attempts are numbered on across passes, as in
    ``stepc run``. ``grace``: seconds between a stopped attempt's SIGTERM and SIGKILL."""
    step = pipeline.step(step_name)
    lookup = store_lookup(pipeline, store, run_id, params)
    numbers = [store.attempt_numbers(run_id, pass_location(step.name, k), item) for k in range(iteration + 1)]
    number = attempt or max((n for found in numbers for n in found), default=0) + 1
    # The retry budget (whether @catch acts) counts this pass's attempts only.
    before = max((n for found in numbers[:-1] for n in found), default=0)

    def final(n: int) -> bool:
        return n - before >= 1 + step.retry.times

    previous = None
    try:
        if iteration:
            previous = store.read_result(run_id, pass_location(step.name, iteration - 1), item)
            if previous is None or not loops_again(step, previous):
                raise MissingInput(
                    f"pass {iteration} of step '{step.name}': pass {iteration - 1} did not choose to loop"
                )
        elif should_skip(pipeline, step, item, params, store, lookup):
            now = time.time()
            skipped = TaskResult("skipped", step.name, item, number, now, now)
            store.commit(run_id, skipped)
            return control(skipped, run_id), 0
        check_item(pipeline, step, item, params, lookup)
        task = make_task(pipeline, step, item, number, run_id, params, lookup, final(number), previous, iteration)
    except (MissingInput, KeyError) as exc:
        error = str(exc) if isinstance(exc, MissingInput) else f"parameter {exc} was not given"
        return {"status": "error", "run_id": run_id, "step": step.name, "item": item_to_json(item), "error": error}, 2
    tries = 1 + (step.retry.times if retry else 0)
    for n in range(1, tries + 1):
        result = attempt_within(task, store, flow_path, pipeline.module, step.timeout, grace)
        if result.status == "succeeded" or n == tries:
            break
        time.sleep(step.retry.wait_before(n))
        next_attempt = task.attempt + 1
        task = make_task(
            pipeline, step, item, next_attempt, run_id, params, lookup, final(next_attempt), previous, iteration
        )
    message = control(result, run_id)
    if result.status == "succeeded":
        values = condition_values(pipeline, step, store, result)
        if values:
            message["values"] = {step.name: values}
    return message, 0 if result.status == "succeeded" else 1


def check_item(pipeline: Pipeline, step: Step, item: Item, params: Mapping[str, Any], lookup: ResultLookup) -> None:
    """An item path that names a task of ``step``: one index per scope, each in range."""
    if item is None:
        if step.scope:
            levels = "K" if step.depth == 1 else "/".join(f"I{n}" for n in range(1, step.depth + 1))
            raise MissingInput(f"step '{step.name}' is a foreach step: pass --item {levels}")
        return
    if not step.scope:
        raise MissingInput(f"step '{step.name}' is not a foreach step: it takes no --item")
    if len(item) != step.depth:
        raise MissingInput(
            f"step '{step.name}' runs inside {step.depth} foreach level(s): --item needs {step.depth} indices"
        )
    for level in range(step.depth):
        count = item_count(pipeline, pipeline.step(step.scope[level]), params, lookup, item[:level] or None)
        if not 0 <= item[level] < count:
            where = f" (under {item_text(item[:level])})" if level else ""
            raise MissingInput(f"item {item_text(item)} is out of range: step '{step.name}' has {count} items{where}")


def attempt_within(
    task: Task, store: Store, flow_path: str, module: str, timeout: int | None, grace: float = DEFAULT_KILL_GRACE
) -> TaskResult:
    """One attempt, in a supervised child as ``stepc run`` runs one: stopped at the deadline
    (SIGTERM, then SIGKILL ``grace`` seconds later), so that engines running ``stepc exec``
    without a limit of their own (GitHub Actions, Valohai) still get it, and whatever the step
    started is stopped when it ends, with or without a timeout."""
    pool = Pool(grace)
    child = pool.start(lambda: 0 if execute(task, store, flow_path, module).status == "succeeded" else 1, None, timeout)
    try:
        done = pool.wait(None)
        while not done:
            done = pool.wait(None)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM from an engine cancelling the task
        pool.kill_all()
        raise
    code = done[0][1]
    problem = child.store_error(code)
    if problem is not None:
        raise problem
    where = task.location  # a recursive switch's pass has a folder of its own
    result = store.read_attempt(task.run_id, where, task.item, task.attempt)
    if result is not None and result.status == "succeeded" and not child.timed_out:
        return result
    # Why the attempt failed, in its log (which engines show) and its status, for `stepc logs`.
    error = describe_exit(code, child.timed_out, timeout, result)
    log = store.log_path(task.run_id, where, task.item, task.attempt)
    store.append_log(log, f"\n[stepc] attempt {task.attempt} failed: {error}\n")
    started = result.started if result is not None else time.time()
    failed = TaskResult("failed", where, task.item, task.attempt, started, time.time(), error=error, exit_code=code)
    store.write_status(task.run_id, failed)
    return failed


def write_foreach_out(directory: Path, pipeline: Pipeline, step: Step, message: dict[str, Any]) -> None:
    """For engines that fan out from files (Argo's ``valueFrom.path``): ``<dir>/<output>.json``
    holds the item indices of each output of ``step`` a foreach runs over (``[]`` if skipped)."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = message.get("foreach") or {}
    for name in foreach_outputs(pipeline, step):
        items = counts.get(name, {}).get("items", [])
        (directory / f"{name}.json").write_text(json.dumps(items))


def exec_paths(
    pipeline: Pipeline, head: str, run_id: str, store: Store, params: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    """``stepc exec --items-of HEAD``: the index paths (``1/0``) of every task of the nested
    foreach ``head`` opens, read from its lists' producers in the store, for engines that fan a
    task out over one flat list. Returns the control message and the exit code (2: a producer
    has not run)."""
    lookup = store_lookup(pipeline, store, run_id, params)
    try:
        paths = [item_text(p) for p in item_paths(pipeline, pipeline.step(head), params, lookup)]
    except (MissingInput, KeyError) as exc:
        error = str(exc) if isinstance(exc, MissingInput) else f"parameter {exc} was not given"
        return {"status": "error", "run_id": run_id, "items_of": head, "error": error}, 2
    return {"status": "succeeded", "run_id": run_id, "items_of": head, "paths": paths, "count": len(paths)}, 0


PATHS_FILE = "paths.json"  # under --foreach-out, what `--items-of` writes


def write_paths_out(directory: Path, message: dict[str, Any]) -> None:
    """``<dir>/paths.json``: the item paths of an ``--items-of`` message, for ``valueFrom.path``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PATHS_FILE).write_text(json.dumps(message["paths"]))


# --- values that downstream conditions read -----------------------------------------------------

VALUE_UNKNOWN = "?"  # the value text of anything an engine cannot compare exactly
MAX_VALUE_TEXT = 1024  # engines keep these in small fields (job outputs, XCom, parameters)


def condition_reads(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    """Step name -> its outputs that some step's condition reads, sorted, for every step that has
    any (none for a foreach step: a condition reads one value, and a foreach step has one per
    item). One pass over the pipeline: a backend computes it once, not once per step or job."""
    read: dict[str, set[str]] = {}
    for other in pipeline.steps:
        for condition in (other.condition, other.repeat):  # a recursive switch's engine loops on it
            for ref in artifact_refs(condition):
                read.setdefault(ref.step, set()).add(ref.name)
    found: dict[str, tuple[str, ...]] = {}
    for step in pipeline.steps:
        names = read.get(step.name, set()) & set(step.outputs)
        if names and step.foreach is None:
            found[step.name] = tuple(sorted(names))
    return found


def condition_outputs(pipeline: Pipeline, step: Step) -> tuple[str, ...]:
    """Outputs of ``step`` that some step's condition reads, sorted (see :func:`condition_reads`;
    for one step, as `stepc exec` asks; over a whole pipeline, call that once instead)."""
    return condition_reads(pipeline).get(step.name, ())


def plain_value(value: Any) -> bool:
    """Whether ``value`` compares the same in Python, after a JSON round trip, and as its
    :func:`value_text`: exactly a str, int, bool, finite float or None (no subclasses, whose
    comparisons may be their own), and short."""
    if value is None or type(value) in (bool, int):
        return type(value) is not int or abs(value) < 10**300
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is str and len(value) <= MAX_VALUE_TEXT


def value_text(value: Any) -> str:
    """A text that two plain values share exactly when Python says they are equal.

    Strings are JSON strings (quoted, ASCII), None is ``null``, and every number is written as
    the number it is: ``True``, ``1`` and ``1.0`` are all ``1`` (Python finds them equal), a
    fraction keeps ``repr`` (which round-trips). Anything else is :data:`VALUE_UNKNOWN`, which
    no plain value's text equals. Engines compare these texts as strings (Argo's ``when``).
    """
    if not plain_value(value):
        return VALUE_UNKNOWN
    if value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def condition_values(pipeline: Pipeline, step: Step, store: Store, result: TaskResult) -> dict[str, Any]:
    """The plain values of the outputs of ``step`` that downstream conditions read (see the
    module docstring); an output that is missing or not plain is left out."""
    values: dict[str, Any] = {}
    for name in condition_outputs(pipeline, step):
        try:
            value = store.read_artifact(result.output(name))
        except Exception:  # unset or unreadable: the consumer's own exec reports it
            continue
        if plain_value(value):
            values[name] = value
    return values


def write_values_out(directory: Path, pipeline: Pipeline, step: Step, message: dict[str, Any]) -> None:
    """For engines that read task outputs from files (Argo's ``valueFrom.path``):
    ``<dir>/<step>/<output>.txt`` holds the :func:`value_text` of each output of ``step`` that a
    condition reads, :data:`VALUE_UNKNOWN` when the step was skipped or the value is not plain.
    The step name is percent-quoted as in the store, so that it is one path segment."""
    names = condition_outputs(pipeline, step)
    if not names:
        return
    folder = directory / value_dir(step.name)
    folder.mkdir(parents=True, exist_ok=True)
    values = (message.get("values") or {}).get(step.name, {})
    for name in names:
        text = value_text(values[name]) if name in values else VALUE_UNKNOWN
        (folder / f"{name}.txt").write_text(text, encoding="ascii")


def value_dir(step: str) -> str:
    """The folder of a step's value files under ``--values-out`` (a safe path segment)."""
    from urllib.parse import quote

    return quote(step, safe="") if step not in (".", "..") else quote(step.replace(".", "%2E"))


def exec_rollbacks(pipeline: Pipeline, flow_path: str, run_id: str, store: Store) -> tuple[dict[str, Any], int]:
    """Run the rollback of every task of the run that succeeded, newest first, each logged to
    the task's ``rollback.log``; one failing does not stop the others."""
    done = [r for step in pipeline.steps if step.rollback for r in store.committed(run_id, step.name)]
    outcome: list[dict[str, Any]] = []
    for step, result in rollback_order(pipeline, done):
        assert step.rollback is not None
        log = store.task_dir(run_id, step.name, result.item) / "rollback.log"
        error = None
        with captured(log):
            try:
                outputs = {meta.name: store.read_artifact(meta) for meta in result.outputs}
                data = read_rollback_data(store, run_id, result.step, result.item)
                call_rollback(step.rollback, flow_path, pipeline.module, outputs, data)
            except Exception as exc:  # best effort: report it and go on with the others
                sys.stderr.write(user_traceback(exc))
                error = f"{type(exc).__name__}: {exc}"
        store.publish(log)
        if error is None:
            store.uncommit(run_id, step.name, result.item)
        status = "failed" if error else "succeeded"
        outcome.append({"step": step.name, "item": result.item, "status": status, "error": error})
    failed = any(o["error"] for o in outcome)
    return {"status": "failed" if failed else "succeeded", "run_id": run_id, "rollbacks": outcome}, int(failed)
