"""Bounded fan-out: the limits a pipeline gets where its flow sets none.

Every foreach scope's head carries the most items of the scope that may run at once
(:attr:`stepc.ir.Step.max_parallel`): the flow's ``max_parallel=``, else ``[tool.stepc]
foreach_max_parallel``, else 100, Metaflow's bound on a foreach. A whole run is unbounded unless
``pipeline(max_parallel=)`` or ``[tool.stepc] max_parallel`` says otherwise. The limits are
settled here, once, so that the IR says what every target and ``stepc run`` honour.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from stepc.config import Config
from stepc.diagnostics import Diagnostic
from stepc.ir import Pipeline

DEFAULT_FOREACH_MAX_PARALLEL = 100  # as Metaflow's bound on a foreach


@dataclass(frozen=True)
class Limits:
    """The project's defaults: items of one fan-out at once, and tasks of one run (None: any)."""

    foreach: int = DEFAULT_FOREACH_MAX_PARALLEL
    run: int | None = None


def read_limits(config: Config) -> tuple[Limits, list[Diagnostic]]:
    """The limits ``[tool.stepc]`` sets, and T103 for a value that is not a whole number >= 1
    (the default stands in for it)."""
    found: list[Diagnostic] = []
    values: dict[str, int | None] = {"foreach_max_parallel": DEFAULT_FOREACH_MAX_PARALLEL, "max_parallel": None}
    for key in values:
        raw = config.settings.get(key)
        if raw is None:
            continue
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
            values[key] = raw
        else:
            found.append(_bad_setting(config, key, f"a whole number of at least 1, not {raw!r}"))
    foreach = values["foreach_max_parallel"]
    return Limits(foreach if foreach is not None else DEFAULT_FOREACH_MAX_PARALLEL, values["max_parallel"]), found


def bound(pipeline: Pipeline, limits: Limits) -> Pipeline:
    """``pipeline`` with the defaults filled in: each foreach scope's head that sets no bound
    gets ``limits.foreach``, and a pipeline without one gets ``limits.run``."""
    steps = tuple(
        replace(s, max_parallel=limits.foreach)
        if s.scope and s.scope[-1] == s.name and s.max_parallel is None
        else s
        for s in pipeline.steps
    )
    run = pipeline.max_parallel if pipeline.max_parallel is not None else limits.run
    return replace(pipeline, steps=steps, max_parallel=run)


def _bad_setting(config: Config, key: str, wanted: str) -> Diagnostic:
    """T103 at the line of the top-level ``key`` in ``[tool.stepc]`` (or in stepc.toml)."""
    path = config.file
    in_pyproject = path is None or path.name == "pyproject.toml"
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
    except (OSError, UnicodeDecodeError):
        lines = []
    line = _top_level_line(lines, key, "[tool.stepc]" if in_pyproject else None)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    col = text.find(key) + 1 if key in text else 1
    message = f"setting '{key}' in {'[tool.stepc]' if in_pyproject else 'stepc.toml'} is {wanted}"
    return Diagnostic("T103", message, _shown(path), line, col, source_line=text)


def _top_level_line(lines: list[str], key: str, header: str | None) -> int:
    """The line of ``key = ...`` in the table ``header`` (None: before stepc.toml's first table)."""
    inside = header is None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text.startswith("["):
            if not inside and header is not None and re.fullmatch(re.escape(header) + r"\s*(#.*)?", text):
                inside = True
                continue
            if inside:
                break
        if inside and re.match(re.escape(key) + r"\s*=", text):
            return number
    return 1


def _shown(path: Path | None) -> str:
    """The config file as a user types it: relative to the working directory when under it."""
    if path is None:
        return "pyproject.toml"
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)
