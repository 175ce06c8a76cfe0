"""IR conditions as Argo expression tags (``{{= ... }}``, expr-lang).

Parameter values are read from ``workflow.parameters[...]`` inside the expression, never
pasted into it as text, so a quote in a value cannot change the condition. Literals come from
the flow's own source and are written as escaped string literals; braces are escaped too so
that no literal can close the ``{{= }}`` tag early.

A condition on an upstream artifact reads the producer task's output parameter, which holds
the value's :func:`~stepc.runtime.entry.value_text` (see :func:`artifact_when`). Such a
``when`` is only an early skip: ``stepc exec`` decides again, so it may be weaker than the
condition but never stricter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from stepc.ir import (
    COMPARE_OPS,
    ArtifactRef,
    Compare,
    Condition,
    ConditionGenerator,
    Const,
    Parameter,
    ParamRef,
    condition_artifacts,
    conjuncts,
    thaw,
)
from stepc.runtime.entry import VALUE_UNKNOWN, plain_value, value_text

from .argo_text import kube_text


def _literal(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    return string_literal(str(value))


def _as_parameter_text(value: Any) -> Any:
    if isinstance(value, str):
        return kube_text(value)
    if isinstance(value, list):
        return [_as_parameter_text(v) for v in value]
    if isinstance(value, dict):
        return {kube_text(str(k)): _as_parameter_text(v) for k, v in value.items()}
    return value


def string_literal(text: str) -> str:
    """An expr-lang string literal; braces escaped so it cannot close a ``{{= }}`` tag."""
    return json.dumps(text, ensure_ascii=True).replace("{", "\\u007b").replace("}", "\\u007d")


def _parameter(param: Parameter) -> str:
    ref = f"workflow.parameters[{_literal(param.name)}]"
    if param.type == "int":
        return f"asInt({ref})"
    if param.type == "float":
        return f"asFloat({ref})"
    if param.type == "bool":
        return f"({ref} == 'true')"
    if param.type in ("list", "dict"):
        return f"jsonpath({ref}, '$')"
    return ref


class _Expression(ConditionGenerator):
    """expr-lang over the workflow's parameters; artifacts have no text here (see :class:`_Exact`)."""

    OPERATORS: ClassVar[Mapping[str, str]] = {op: op for op in COMPARE_OPS if op != "not in"}
    NEGATED: ClassVar[Mapping[str, str]] = {"not in": "in"}
    BOOL_OPS: ClassVar[Mapping[str, str]] = {"and": " && ", "or": " || "}
    NOT: ClassVar[str] = "!({})"

    def __init__(self, params: dict[str, Parameter]) -> None:
        self.params = params

    def param(self, ref: ParamRef) -> str:
        return _parameter(self.params[ref.name])

    def artifact(self, ref: ArtifactRef) -> str | None:
        raise ValueError("artifact conditions are not expressible on Argo")

    def literal(self, value: Any) -> str:
        # Compared with a parameter, which holds its value as `stepc exec`'s arguments need
        # it (`argo_text.kube_text`): the literal is escaped the same way, so they still agree.
        return _literal(_as_parameter_text(value))


def expression(cond: Condition, params: dict[str, Parameter]) -> str:
    """The expr-lang text of ``cond``."""
    text = _Expression(params).generate(cond)
    assert text is not None, "every operand but an artifact has a text"
    return text


def when_tag(cond: Condition, params: dict[str, Parameter]) -> str:
    return "{{=" + expression(cond, params) + "}}"


# --- conditions on upstream artifacts ----------------------------------------------------------

# (step, artifact) -> the expr-lang text reading the producer task's output parameter
ValueRefs = dict[tuple[str, str], str]


def task_output(task: str, parameter: str) -> str:
    """expr-lang access to a task's output parameter (task names hold hyphens: index the maps)."""
    return f"tasks[{string_literal(task)}].outputs.parameters[{string_literal(parameter)}]"


def _value_literal(value: Any) -> str | None:
    """The string literal of a constant's value text, or None when it is not a plain value."""
    return string_literal(value_text(value)) if plain_value(value) else None


class _Exact(_Expression):
    """An expression equal to the condition whenever every value it reads is known, or None.

    Value texts are equal exactly when the values are (``value_text``), so ``==``, ``!=``, ``in``
    and ``not in`` over plain constants carry over; ordering, substrings and anything compared
    with a parameter are left to ``stepc exec``.
    """

    def __init__(self, params: dict[str, Parameter], refs: ValueRefs) -> None:
        super().__init__(params)
        self.refs = refs

    def compare(self, cond: Compare) -> str | None:
        if not condition_artifacts(cond):
            return super().compare(cond)
        left, right, op = cond.left, cond.right, cond.op
        if op in ("==", "!=") and isinstance(right, ArtifactRef) and not isinstance(left, ArtifactRef):
            left, right = right, left
        if not isinstance(left, ArtifactRef) or (left.step, left.name) not in self.refs:
            return None
        value = self.refs[(left.step, left.name)]
        if op in ("==", "!="):
            if isinstance(right, ArtifactRef):
                other = self.refs.get((right.step, right.name))
                return None if other is None else f"{value} {op} {other}"
            literal = _value_literal(thaw(right.value)) if isinstance(right, Const) else None
            return None if literal is None else f"{value} {op} {literal}"
        if op in ("in", "not in") and isinstance(right, Const) and isinstance(right.value, tuple):
            items = [_value_literal(thaw(v)) for v in right.value]
            if any(i is None for i in items):
                return None
            test = f"{value} in [{', '.join(i for i in items if i is not None)}]"
            return test if op == "in" else self.NOT.format(test)
        return None


def exact_when(cond: Condition, params: dict[str, Parameter], refs: ValueRefs) -> str | None:
    """The ``when`` tag that holds exactly when ``cond`` does (an unknown value never holds),
    or None when it cannot be said exactly: for a recursive switch, where running a pass too
    many is as wrong as one too few."""
    text = _Exact(params, refs).generate(cond)
    return None if text is None else "{{=" + text + "}}"


def artifact_when(cond: Condition, params: dict[str, Parameter], refs: ValueRefs) -> str | None:
    """The ``when`` tag of a condition that reads upstream artifacts, or None for none at all.

    Each conjunct is kept when it can be said exactly, and dropped otherwise (so the tag only
    gets weaker). A conjunct reading artifacts also holds when any value it reads is unknown
    (not plain, or its producer did not run: then ``stepc exec`` decides), for example::

        {{=(tasks["route"].outputs.parameters["value-route-mode"] == "?"
            || tasks["route"].outputs.parameters["value-route-mode"] == "\"train\"")}}
    """
    exact = _Exact(params, refs)
    kept: list[str] = []
    for part in conjuncts(cond):
        text = exact.generate(part)
        if text is None:
            continue
        read = condition_artifacts(part)
        if read:
            unknown = sorted({f"{refs[(r.step, r.name)]} == {string_literal(VALUE_UNKNOWN)}" for r in read})
            text = " || ".join([*unknown, f"({text})"])
        kept.append(text)
    if not kept:
        return None
    return "{{=" + " && ".join(f"({k})" for k in kept) + "}}"
