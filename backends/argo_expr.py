"""IR conditions as Argo expression tags (``{{= ... }}``, expr-lang).

Parameter values are read from ``workflow.parameters[...]`` inside the expression, never
pasted into it as text, so a quote in a value cannot change the condition. Literals come from
the flow's own source and are written as escaped string literals; braces are escaped too so
that no literal can close the ``{{= }}`` tag early.
"""

from __future__ import annotations

import json
from typing import Any

from stepc.ir import BoolOp, Compare, Condition, Const, Not, Operand, Parameter, ParamRef, thaw

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
