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
from typing import Any

from stepc.ir import ArtifactRef, BoolOp, Compare, Condition, Const, Not, Operand, Parameter, ParamRef, thaw
from stepc.runtime.entry import VALUE_UNKNOWN, plain_value, value_text

_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in"}


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


def _operand(operand: Operand, params: dict[str, Parameter]) -> str:
    if isinstance(operand, ParamRef):
        return _parameter(params[operand.name])
    if isinstance(operand, Const):
        return _literal(thaw(operand.value))
    raise ValueError("artifact conditions are not expressible on Argo")


def expression(cond: Condition, params: dict[str, Parameter]) -> str:
    """The expr-lang text of ``cond``."""
    if isinstance(cond, Not):
        return f"!({expression(cond.operand, params)})"
    if isinstance(cond, BoolOp):
        joiner = " && " if cond.op == "and" else " || "
        return joiner.join(f"({expression(c, params)})" for c in cond.operands)
    assert isinstance(cond, Compare)
    left, right = _operand(cond.left, params), _operand(cond.right, params)
    if cond.op == "not in":
        return f"!({left} in {right})"
    return f"{left} {_OPS[cond.op]} {right}"


def when_tag(cond: Condition, params: dict[str, Parameter]) -> str:
    return "{{=" + expression(cond, params) + "}}"


# --- conditions on upstream artifacts ----------------------------------------------------------

# (step, artifact) -> the expr-lang text reading the producer task's output parameter
ValueRefs = dict[tuple[str, str], str]


def task_output(task: str, parameter: str) -> str:
    """expr-lang access to a task's output parameter (task names hold hyphens: index the maps)."""
    return f"tasks[{string_literal(task)}].outputs.parameters[{string_literal(parameter)}]"


def _has_artifact(cond: Condition) -> bool:
    if isinstance(cond, Not):
        return _has_artifact(cond.operand)
    if isinstance(cond, BoolOp):
        return any(_has_artifact(c) for c in cond.operands)
    return isinstance(cond.left, ArtifactRef) or isinstance(cond.right, ArtifactRef)


def _refs(cond: Condition) -> list[ArtifactRef]:
    if isinstance(cond, Not):
        return _refs(cond.operand)
    if isinstance(cond, BoolOp):
        return [r for c in cond.operands for r in _refs(c)]
    return [o for o in (cond.left, cond.right) if isinstance(o, ArtifactRef)]


def _value_literal(value: Any) -> str | None:
    """The string literal of a constant's value text, or None when it is not a plain value."""
    return string_literal(value_text(value)) if plain_value(value) else None


def _exact(cond: Condition, params: dict[str, Parameter], refs: ValueRefs) -> str | None:
    """An expression equal to ``cond`` whenever every value it reads is known, or None.

    Value texts are equal exactly when the values are (``value_text``), so ``==``, ``!=``, ``in``
    and ``not in`` over plain constants carry over; ordering, substrings and anything compared
    with a parameter are left to ``stepc exec``.
    """
    if isinstance(cond, Not):
        inner = _exact(cond.operand, params, refs)
        return None if inner is None else f"!({inner})"
    if isinstance(cond, BoolOp):
        parts = [_exact(c, params, refs) for c in cond.operands]
        if any(p is None for p in parts):
            return None
        joiner = " && " if cond.op == "and" else " || "
        return joiner.join(f"({p})" for p in parts)
    assert isinstance(cond, Compare)
    if not _has_artifact(cond):
        return expression(cond, params)
    left, right, op = cond.left, cond.right, cond.op
    if op in ("==", "!=") and isinstance(right, ArtifactRef) and not isinstance(left, ArtifactRef):
        left, right = right, left
    if not isinstance(left, ArtifactRef) or (left.step, left.name) not in refs:
        return None
    value = refs[(left.step, left.name)]
    if op in ("==", "!="):
        if isinstance(right, ArtifactRef):
            other = refs.get((right.step, right.name))
            return None if other is None else f"{value} {op} {other}"
        literal = _value_literal(thaw(right.value)) if isinstance(right, Const) else None
        return None if literal is None else f"{value} {op} {literal}"
    if op in ("in", "not in") and isinstance(right, Const) and isinstance(right.value, tuple):
        items = [_value_literal(thaw(v)) for v in right.value]
        if any(i is None for i in items):
            return None
        test = f"{value} in [{', '.join(i for i in items if i is not None)}]"
        return test if op == "in" else f"!({test})"
    return None


def artifact_when(cond: Condition, params: dict[str, Parameter], refs: ValueRefs) -> str | None:
    """The ``when`` tag of a condition that reads upstream artifacts, or None for none at all.

    Each conjunct is kept when it can be said exactly, and dropped otherwise (so the tag only
    gets weaker). A conjunct reading artifacts also holds when any value it reads is unknown
    (not plain, or its producer did not run: then ``stepc exec`` decides), for example::

        {{=(tasks["route"].outputs.parameters["value-route-mode"] == "?"
            || tasks["route"].outputs.parameters["value-route-mode"] == "\"train\"")}}
    """
    parts = cond.operands if isinstance(cond, BoolOp) and cond.op == "and" else (cond,)
    kept: list[str] = []
    for part in parts:
        text = _exact(part, params, refs)
        if text is None:
            continue
        if _has_artifact(part):
            unknown = sorted({f"{refs[(r.step, r.name)]} == {string_literal(VALUE_UNKNOWN)}" for r in _refs(part)})
            text = " || ".join([*unknown, f"({text})"])
        kept.append(text)
    if not kept:
        return None
    return "{{=" + " && ".join(f"({k})" for k in kept) + "}}"
