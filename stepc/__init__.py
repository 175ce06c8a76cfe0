"""stepc: a compiler for ML pipelines.

Flows import ``step`` and ``pipeline`` (function dialect) or ``FlowSpec``, ``step``,
``Parameter``, ``retry``, ``timeout``, ``resources`` and ``catch`` (class dialect) from here;
they are defined in :mod:`stepc.runtime.markers` and imported by engine tasks from there. This
module imports nothing heavy: :func:`run` loads the front end and the interpreter when called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stepc.runtime.context import current
from stepc.runtime.markers import (
    Config,
    FlowSpec,
    Parameter,
    catch,
    config_expr,
    engine,
    pipeline,
    resources,
    retry,
    step,
    timeout,
)

if TYPE_CHECKING:
    from stepc.client import Run, runs
    from stepc.diagnostics import Diagnostic
    from stepc.interpreter import RunResult

__version__ = "0.1.0"
__all__ = [
    "Config",
    "FlowSpec",
    "LoadError",
    "Parameter",
    "Run",
    "__version__",
    "catch",
    "config_expr",
    "current",
    "engine",
    "pipeline",
    "resources",
    "retry",
    "run",
    "runs",
    "step",
    "timeout",
]


def __getattr__(name: str) -> Any:
    # The client reads the run database: loaded when first named, not by every flow import.
    if name in ("Run", "runs"):
        from stepc import client

        return getattr(client, name)
    raise AttributeError(f"module 'stepc' has no attribute {name!r}")


class LoadError(Exception):
    """The flow file has errors; ``diagnostics`` says which (rendered as the message)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        from stepc.diagnostics import render

        super().__init__(render(diagnostics, "text").rstrip())
        self.diagnostics = diagnostics


def run(
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    store: str | os.PathLike[str] | None = None,
    pipeline: str | None = None,
    quiet: bool = True,
    param_texts: Mapping[str, str] | None = None,
    no_cache: bool = False,
    rerun: Iterable[str] = (),
) -> RunResult:
    """Run the flow file ``path`` locally and return its :class:`~stepc.interpreter.RunResult`.

    ``params`` are Python values by parameter name (checked against the declared types),
    ``workers`` the number of steps/items at once (default: the number of cores), ``store``
    a directory or ``file://`` URL (default ``.stepc/`` in the project), ``pipeline`` picks
    one of several pipelines in the file, ``quiet=False`` shows progress on stdout;
    ``no_cache`` reuses no stored result, ``rerun`` none of the named steps'.
    Raises :class:`LoadError` when the flow has errors and
    :class:`~stepc.params.ParamError` for bad values.
    """
    # The edge: the front end reads the source, the interpreter runs the IR it is given.
    from stepc.frontend import load
    from stepc.interpreter import make_reporter, run_pipeline

    ir, diagnostics = load(os.fspath(path), pipeline)
    if ir is None:
        raise LoadError(diagnostics)
    return run_pipeline(
        ir,
        path,
        params,
        param_texts=param_texts,
        workers=workers,
        store=store,
        reporter=make_reporter(quiet),
        no_cache=no_cache,
        rerun=rerun,
    )
