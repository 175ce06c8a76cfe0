"""The local reference interpreter: ``stepc run`` / ``stepc resume`` and ``stepc.run()``.

It runs the IR of a flow file with the semantics every backend must match: see
:mod:`stepc.interpreter.scheduler` for the loop and :mod:`stepc.runtime.exec` for how each step
runs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepc.diagnostics import Diagnostic, render
from stepc.interpreter.progress import PlainReporter, QuietReporter, Reporter, RichReporter
from stepc.interpreter.result import RunResult, StepResult
from stepc.interpreter.rundb import RunDB, runner_alive
from stepc.interpreter.scheduler import Runner
from stepc.ir import Pipeline
from stepc.params import ParamError, resolve
from stepc.runtime.store import Store, new_run_id, open_store

__all__ = ["LoadError", "ParamError", "RunResult", "StepResult", "open_store", "resume", "run", "run_pipeline"]


class LoadError(Exception):
    """The flow file has errors; ``diagnostics`` says which (rendered as the message)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(render(diagnostics, "text").rstrip())
        self.diagnostics = diagnostics


def make_reporter(quiet: bool, stream: Any = None) -> Reporter:
    """Rich on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return QuietReporter()
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console

        return RichReporter(Console(file=stream))
    return PlainReporter(stream)


def load_pipeline(path: str | os.PathLike[str], pipeline: str | None = None) -> Pipeline:
    """Read the flow statically (the front end) or raise :class:`LoadError`."""
    from stepc.frontend import load

    loaded, diags = load(os.fspath(path), pipeline)
    if loaded is None:
        raise LoadError(diags)
    return loaded


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
) -> RunResult:
    """Run an IR pipeline whose functions live in ``flow_path``. Parameter problems raise
    :class:`ParamError` before anything runs."""
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
        )
        return runner.run()
    finally:
        db.close()


def run(
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    store: str | os.PathLike[str] | None = None,
    pipeline: str | None = None,
    quiet: bool = True,
    param_texts: Mapping[str, str] | None = None,
) -> RunResult:
    """Run the flow file ``path`` locally and return its :class:`RunResult`.

    ``params`` are Python values by parameter name (checked against the declared types),
    ``workers`` the number of steps/items at once (default: the number of cores), ``store``
    a directory or ``file://`` URL (default ``.stepc/`` in the project), ``pipeline`` picks
    one of several pipelines in the file, ``quiet=False`` shows progress on stdout.
    Raises :class:`LoadError` when the flow has errors and :class:`ParamError` for bad values.
    """
    ir = load_pipeline(path, pipeline)
    return run_pipeline(
        ir, path, params, param_texts=param_texts, workers=workers, store=store, reporter=make_reporter(quiet)
    )


def resume(
    run_id: str,
    *,
    store: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    quiet: bool = True,
    reporter: Reporter | None = None,
) -> RunResult:
    """Continue a failed or killed run in place: tasks that succeeded are not run again."""
    the_store = open_store(store, Path.cwd() / "flow.py")
    db = RunDB(the_store.db_path)
    try:
        row = db.run(run_id)
        if row is None:
            raise LookupError(f"no run {run_id!r} in {the_store.root}")
        if runner_alive(row):
            raise RuntimeError(f"run {row['run_id']} is still running (pid {row['pid']})")
        if row["status"] == "succeeded":
            raise RuntimeError(f"run {row['run_id']} already succeeded; nothing to resume")
        ir = load_pipeline(row["flow"], row["pipeline"])
        declared = {p.name for p in ir.params}  # the flow may have changed since: keep what still applies
        values = resolve(ir.params, {k: v for k, v in json.loads(row["params"]).items() if k in declared})
        runner = Runner(
            ir,
            row["flow"],
            row["run_id"],
            values,
            the_store,
            db,
            workers or row["workers"] or os.cpu_count() or 1,
            reporter or make_reporter(quiet),
            resume=True,
        )
        return runner.run()
    finally:
        db.close()
