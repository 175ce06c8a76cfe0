"""The local reference interpreter: ``stepc run`` / ``stepc resume`` and ``stepc.run()``.

It runs the IR it is given (a :class:`~stepc.ir.Pipeline` and the path of the flow file whose
functions it calls) with the semantics every backend must match: see
:mod:`stepc.interpreter.scheduler` for the loop and :mod:`stepc.runtime.exec` for how each step
runs. Reading the source into the IR happens at the edges (the CLI and :func:`stepc.run`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepc import graphs
from stepc.config import find_config
from stepc.interpreter.cache import CacheUse
from stepc.interpreter.progress import PlainReporter, QuietReporter, Reporter, RichReporter
from stepc.interpreter.result import RunResult, StepResult
from stepc.interpreter.rundb import RunDB, runner_alive
from stepc.interpreter.scheduler import Runner
from stepc.ir import Pipeline, parameters_read
from stepc.params import ParamError, resolve
from stepc.runtime.exec import default_evaluator
from stepc.runtime.faults import check_writable
from stepc.runtime.store import Store, new_run_id, open_store

__all__ = ["ParamError", "Resumable", "RunResult", "StepResult", "open_store", "resumable", "resume", "run_pipeline"]


def make_reporter(quiet: bool, stream: Any = None) -> Reporter:
    """Rich on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return QuietReporter()
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console

        return RichReporter(Console(file=stream))
    return PlainReporter(stream)


def run_pipeline(
    pipeline: Pipeline,
    flow_path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    param_texts: Mapping[str, str] | None = None,
    workers: int | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    reporter: Reporter | None = None,
    run_id: str | None = None,
    no_cache: bool = False,
    rerun: Iterable[str] = (),
) -> RunResult:
    """Run an IR pipeline whose functions live in ``flow_path``. Parameter problems raise
    :class:`ParamError` before anything runs. ``no_cache`` reuses no stored result, ``rerun``
    none of the steps it names (both still store what they compute)."""
    flow = str(Path(flow_path).resolve())
    values = resolve(pipeline.params, params, param_texts, evaluate=default_evaluator(flow, pipeline.module))
    the_store = store if isinstance(store, Store) else open_store(store, flow)
    check_writable(the_store.root, "stepc run")
    db = RunDB(the_store.db_path)
    try:
        runner = Runner(
            pipeline,
            flow,
            run_id or new_run_id(),
            values,
            the_store,
            db,
            workers or os.cpu_count() or 1,
            reporter or QuietReporter(),
            cache_use=CacheUse(not no_cache, frozenset(rerun)),
            grace=find_config(Path(flow)).kill_grace,
        )
        return runner.run()
    finally:
        db.close()


@dataclass(frozen=True)
class Resumable:
    """A failed or killed run that can be continued: its store row and the flow it ran."""

    run_id: str
    flow: str
    pipeline: str | None
    params: dict[str, Any]
    workers: int | None
    store: Store


def resumable(run_id: str, store: str | os.PathLike[str] | None = None, again: bool = False) -> Resumable:
    """The run ``run_id`` of ``store``, checked to be resumable (with ``again``, a run that
    succeeded is too: some of it runs again); the caller reads its flow (``flow``,
    ``pipeline``) into the IR for :func:`resume`. A store that cannot be written is
    :class:`~stepc.runtime.faults.StoreReadOnly`, found before anything runs."""
    the_store = open_store(store, Path.cwd() / "flow.py")
    if not the_store.db_path.is_file():
        raise LookupError(f"no run {run_id!r} in {the_store.root}")
    db = RunDB.reader(the_store.db_path)
    try:
        row = db.run(run_id)
    finally:
        db.close()
    if row is None:
        raise LookupError(f"no run {run_id!r} in {the_store.root}")
    if runner_alive(row):
        raise RuntimeError(f"run {row['run_id']} is still running (pid {row['pid']})")
    if row["status"] == "succeeded" and not again:
        raise RuntimeError(f"run {row['run_id']} already succeeded; nothing to resume")
    check_writable(the_store.root, "stepc resume")
    return Resumable(row["run_id"], row["flow"], row["pipeline"], json.loads(row["params"]), row["workers"], the_store)


def rerun_from(ir: Pipeline, step: str) -> frozenset[str]:
    """``step`` and every step after it: what ``stepc resume --from STEP`` runs again."""
    downstream = {s.name: ir.downstream(s.name) for s in ir.steps}
    return frozenset({step} | graphs.reachable(downstream, [step]))


def resume(
    ir: Pipeline,
    target: Resumable,
    *,
    workers: int | None = None,
    quiet: bool = True,
    reporter: Reporter | None = None,
    from_step: str | None = None,
    param_texts: Mapping[str, str] | None = None,
) -> RunResult:
    """Continue ``target`` in place with the IR of its flow as it is now: tasks that succeeded
    are not run again, except ``from_step`` and every step after it. ``param_texts`` change
    parameters, only those no step kept from before reads (else :class:`ParamError`)."""
    again = rerun_from(ir, from_step) if from_step else frozenset()
    declared = {p.name for p in ir.params}  # the flow may have changed since: keep what still applies
    kept = {k: v for k, v in target.params.items() if k in declared}
    values = resolve(ir.params, kept, param_texts, evaluate=default_evaluator(target.flow, ir.module))
    changed = set(param_texts or {})
    if changed:
        finished = {s for s in ir.steps if s.name not in again and target.store.committed(target.run_id, s.name)}
        for step in finished:
            clash = sorted(changed & parameters_read([step]))
            if clash:
                raise ParamError(
                    f"parameter '{clash[0]}' is read by step '{step.name}', which finished and is kept: "
                    f"resume --from '{step.name}' (or a step before it) to run it with the new value"
                )
    db = RunDB(target.store.db_path)
    try:
        runner = Runner(
            ir,
            target.flow,
            target.run_id,
            values,
            target.store,
            db,
            workers or target.workers or os.cpu_count() or 1,
            reporter or make_reporter(quiet),
            resume=True,
            cache_use=CacheUse(rerun=again),
            again=again,
            grace=find_config(Path(target.flow)).kill_grace,
        )
        return runner.run()
    finally:
        db.close()
