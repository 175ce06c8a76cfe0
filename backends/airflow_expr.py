"""IR conditions as Python expressions in an Airflow DAG file, for its short-circuit tasks.

The expression reads ``params`` (the run's parameters) and ``values`` (the upstream values the
producers' control lines carried). It is built from the tree: every name and literal goes
through :func:`~stepc.backends.quoting.python_literal`, so no user text is ever code.
"""

from __future__ import annotations

from typing import Any

from stepc.ir import ArtifactRef, Condition, ConditionGenerator, ParamRef, condition_artifacts, conjuncts

from .quoting import Quoted, python_literal


class _PythonCondition(ConditionGenerator):
    """Python's own operators; every operand of ``and`` / ``or`` is parenthesised."""

    def param(self, ref: ParamRef) -> str:
        return f"params[{python_literal(ref.name)}]"

    def artifact(self, ref: ArtifactRef) -> str:
        # The value the producer's control line carried; see `when_code` for a missing one.
        return f"values[({python_literal(ref.step)}, {python_literal(ref.name)})]"

    def literal(self, value: Any) -> str:
        return python_literal(value)


_PYTHON = _PythonCondition()


def py_condition(cond: Condition) -> Quoted:
    """The condition as a Python expression over ``params`` and ``values``."""
    text = _PYTHON.generate(cond)
    assert text is not None, "every operand has a Python text"
    return Quoted(text)


def when_code(cond: Condition, readable: set[tuple[str, str]]) -> Quoted | None:
    """The short-circuit expression of a condition that reads upstream artifacts, or None when
    no part of it can be decided before `stepc exec` runs.

    Each conjunct that reads artifacts is wrapped in ``_maybe(lambda: ...)``, which holds when a
    value is missing (not plain, or its producer did not run) or the comparison raises: there,
    `stepc exec` decides. A conjunct reading an artifact outside ``readable`` (a foreach step's,
    or one of a producer that does not run before this task) is dropped, so the result is never
    stricter than the condition.
    """
    kept: list[str] = []
    for part in conjuncts(cond):
        refs = {(r.step, r.name) for r in condition_artifacts(part)}
        if not refs:
            kept.append(f"({py_condition(part)})")
        elif refs <= readable:
            kept.append(f"_maybe(lambda: {py_condition(part)})")
    return Quoted(" and ".join(kept)) if kept else None
