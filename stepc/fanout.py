"""Bounded fan-out: how many items of a foreach, and tasks of a run, may run at once.

A foreach scope's head may carry a bound of its own (:attr:`stepc.ir.Step.max_parallel`): the
flow's ``max_parallel=``, else ``[tool.stepc] foreach_max_parallel``. Without either, the
scope runs at most :data:`DEFAULT_FOREACH_MAX_PARALLEL` items at once (100, as Metaflow bounds a
foreach), which :func:`foreach_limit` gives every target and ``stepc run``; the IR holds only
what the flow or the project set. A whole run is unbounded unless ``pipeline(max_parallel=)`` or
``[tool.stepc] max_parallel`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stepc.config import Config
from stepc.config_diagnostics import top_level_problem
from stepc.diagnostics import Diagnostic
from stepc.ir import Pipeline, Step

DEFAULT_FOREACH_MAX_PARALLEL = 100  # as Metaflow's bound on a foreach


@dataclass(frozen=True)
class Limits:
    """The project's defaults: items of one fan-out at once, and tasks of one run (None: any)."""

    foreach: int | None = None
    run: int | None = None


def read_limits(config: Config) -> tuple[Limits, list[Diagnostic]]:
    """The limits ``[tool.stepc]`` sets, and T103 for a value that is not a whole number >= 1
    (the default stands in for it)."""
    found: list[Diagnostic] = []
    values: dict[str, int | None] = {"foreach_max_parallel": None, "max_parallel": None}
    for key in values:
        raw = config.settings.get(key)
        if raw is None:
            continue
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
            values[key] = raw
        else:
            found.append(top_level_problem(config, key, f"a whole number of at least 1, not {raw!r}"))
    return Limits(values["foreach_max_parallel"], values["max_parallel"]), found


def bound(pipeline: Pipeline, limits: Limits) -> Pipeline:
    """``pipeline`` with the project's defaults filled in: each foreach scope's head that sets
    no bound gets ``limits.foreach``, and a pipeline without one gets ``limits.run``."""
    if limits.foreach is None and limits.run is None:
        return pipeline
    steps = tuple(
        replace(s, max_parallel=limits.foreach)
        if limits.foreach is not None and opens_scope(s) and s.max_parallel is None
        else s
        for s in pipeline.steps
    )
    run = pipeline.max_parallel if pipeline.max_parallel is not None else limits.run
    return replace(pipeline, steps=steps, max_parallel=run)


def opens_scope(step: Step) -> bool:
    """Whether ``step`` is a foreach scope's head, whose bound is the scope's."""
    return bool(step.scope) and step.scope[-1] == step.name


def foreach_limit(head: Step) -> int:
    """The most items of the fan-out ``head`` opens that run at once."""
    return head.max_parallel if head.max_parallel is not None else DEFAULT_FOREACH_MAX_PARALLEL


def fanout_bounds(pipeline: Pipeline, step: Step) -> tuple[tuple[int, str, int], ...]:
    """The foreach scopes ``step`` runs in, outermost first, as (depth, head, bound): a task of
    item path ``p`` counts as item ``p[: depth + 1]`` of the head's fan-out."""
    return tuple((depth, head, foreach_limit(pipeline.step(head))) for depth, head in enumerate(step.scope))


def scope_limit(pipeline: Pipeline, step: Step) -> int | None:
    """The tightest bound of the foreach scopes around ``step`` (None outside every foreach):
    for an engine that bounds one task's items, never more than any scope allows."""
    return min((limit for _, _, limit in fanout_bounds(pipeline, step)), default=None)
