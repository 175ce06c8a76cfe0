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

from stepc.interpreter.cache import CacheUse
from stepc.interpreter.progress import PlainReporter, QuietReporter, Reporter, RichReporter
from stepc.interpreter.result import RunResult, StepResult
from stepc.interpreter.rundb import RunDB, runner_alive
from stepc.interpreter.scheduler import Runner
from stepc.ir import Pipeline
from stepc.params import ParamError, resolve
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
    values = resolve(pipeline.params, params, param_texts)
    flow = str(Path(flow_path).resolve())
    the_store = store if isinstance(store, Store) else open_store(store, flow)
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


def resumable(run_id: str, store: str | os.PathLike[str] | None = None) -> Resumable:
    """The run ``run_id`` of ``store``, checked to be resumable; the caller reads its flow
    (``flow``, ``pipeline``) into the IR for :func:`resume`."""
    the_store = open_store(store, Path.cwd() / "flow.py")
    db = RunDB(the_store.db_path)
    try:
        row = db.run(run_id)
    finally:
        db.close()
    if row is None:
        raise LookupError(f"no run {run_id!r} in {the_store.root}")
    if runner_alive(row):
        raise RuntimeError(f"run {row['run_id']} is still running (pid {row['pid']})")
    if row["status"] == "succeeded":
        raise RuntimeError(f"run {row['run_id']} already succeeded; nothing to resume")
    return Resumable(row["run_id"], row["flow"], row["pipeline"], json.loads(row["params"]), row["workers"], the_store)


def resume(
    ir: Pipeline,
    target: Resumable,
    *,
    workers: int | None = None,
    quiet: bool = True,
    reporter: Reporter | None = None,
) -> RunResult:
    """Continue ``target`` in place with the IR of its flow as it is now: tasks that succeeded
    are not run again."""
    declared = {p.name for p in ir.params}  # the flow may have changed since: keep what still applies
    values = resolve(ir.params, {k: v for k, v in target.params.items() if k in declared})
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
        )
        return runner.run()
    finally:
        db.close()
