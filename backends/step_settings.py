"""A step's own engine settings (``@step(engine={target: {key: value}})``, ``@engine`` in the
class dialect): the rows of a target's :class:`~backends.settings.Setting` table marked
``step=True``, whose ``[tool.stepc.<target>]`` value is the default of every step.

The front end checked the shape and the target name; here each key and value is checked
against the target's table, at the place the key is written (T103, with a did-you-mean), and
the steps fused into one task (a group) must agree on each value, since the task has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.ir import EngineSetting, Pipeline, Step, thaw

from .plan import Unit
from .settings import Setting


def step_table(settings: Mapping[str, Setting]) -> dict[str, Setting]:
    """The keys of a target's table that a step may set."""
    return {key: s for key, s in settings.items() if s.step}


def _at(pipeline: Pipeline, step: Step, entry: EngineSetting | None, message: str) -> Diagnostic:
    span = entry.span if entry is not None and entry.span is not None else step.span
    if span is None:
        return Diagnostic("T103", message, pipeline.source)
    end = span.end_col if entry is not None and span.end_line == span.line else None
    return Diagnostic("T103", message, span.file, span.line, span.col, end_col=end)


def check_step_settings(
    pipeline: Pipeline, step: Step, target: str, settings: Mapping[str, Setting]
) -> list[Diagnostic]:
    """T103 for each ``engine=`` key of ``target`` the table does not offer per step, and each
    value that is not of the key's kind (or breaks the target's own rule for it)."""
    table = step_table(settings)
    found = []
    for key, entry in step.engine_settings(target).items():
        setting = table.get(key)
        if setting is None:
            hint = did_you_mean(key, table)
            offered = f"a step may set: {', '.join(sorted(table))}" if table else f"the {target} target has none"
            message = f"unknown {target} setting '{key}' in engine= of step '{step.name}'{hint}; {offered}"
            found.append(_at(pipeline, step, entry, message))
        elif (problem := setting.problem(thaw(entry.value))) is not None:
            found.append(_at(pipeline, step, entry, f"{target} setting '{key}' of step '{step.name}' is {problem}"))
    return found


def check_unit_agrees(pipeline: Pipeline, unit: Unit, target: str, settings: Mapping[str, Setting]) -> list[Diagnostic]:
    """The steps of one task (a group) must not set one key to different values."""
    found = []
    for key in sorted(step_table(settings)):
        entries = [(s, s.engine_settings(target).get(key)) for s in unit.steps]
        written = [(s, e) for s, e in entries if e is not None]
        if len({repr(e.value) for _, e in written}) > 1:
            step, entry = written[1]
            message = (
                f"{target} setting '{key}' of step '{step.name}' differs from step '{written[0][0].name}''s: "
                f"group '{step.group}' runs as one task, which has one value"
            )
            found.append(_at(pipeline, step, entry, message))
    return found


def unit_value(unit: Unit, target: str, key: str, default: Any) -> Any:
    """The value of ``key`` for a task: its steps' own (they agree), else ``default`` (the
    project's ``[tool.stepc.<target>]`` value or the table's default). Lists come back as lists."""
    for step in unit.steps:
        entry = step.engine_settings(target).get(key)
        if entry is not None:
            return thaw(entry.value)
    return default


def unit_secrets(unit: Unit) -> tuple[str, ...]:
    """The secrets a task's environment gets: every step's (none for a lister, which runs no
    user code)."""
    if unit.lists is not None:
        return ()
    return tuple(sorted({name for step in unit.steps for name in step.secrets}))
