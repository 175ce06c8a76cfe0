"""IR conditions as GitHub Actions `if:` expressions, for skipping a job before it starts.

GitHub's expressions are not Python's: strings compare ignoring case, and ``<`` on strings
compares them as numbers. So a condition becomes a *necessary* condition: an expression that
is true whenever the Python condition is true (``upper``), exact where the two languages agree
(numbers, booleans, null) and weaker elsewhere. GitHub then skips a job only when its
condition is certainly false; ``stepc exec`` decides every remaining case exactly, with the
interpreter's semantics. Parts that cannot be said at all (artifact conditions, strings that
could be read as expressions) count as "maybe" (``None``).

Parameter values are read from the parameters job's JSON output, never pasted in as text.
"""

from __future__ import annotations

import re
from typing import Any

from stepc.ir import BoolOp, Compare, Condition, Const, Not, Parameter, ParamRef, thaw

PARAMS = "fromJSON(needs.stepc-params.outputs.params)"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXACT_OPS = {"==", "!=", "<", "<=", ">", ">="}
_NUMERIC = {"int", "float", "bool"}


def _literal(value: Any) -> str | None:
    """A GitHub literal for a constant, or None when it has none (or could read as syntax)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text) else None  # no inf, nan, 1e-05
    if isinstance(value, str):
        if "${{" in value or "}}" in value or any(ord(c) < 32 for c in value):
            return None
        return "'" + value.replace("'", "''") + "'"
    return None


def _operand(operand: Any, params: dict[str, Parameter]) -> tuple[str | None, str | None]:
    """(expression, type) of a condition operand; (None, None) when it cannot be read here."""
    if isinstance(operand, ParamRef):
        if not _NAME.match(operand.name):
            return None, None
        return f"{PARAMS}.{operand.name}", params[operand.name].type
    if isinstance(operand, Const):
        value = thaw(operand.value)
        kind = "bool" if isinstance(value, bool) else type(value).__name__
        return _literal(value), {"NoneType": "none"}.get(kind, kind)
    return None, None  # an upstream artifact: only known at run time


def _compare(cond: Compare, params: dict[str, Parameter], upper: bool) -> str | None:
    left, ltype = _operand(cond.left, params)
    right, rtype = _operand(cond.right, params)
    if left is None or right is None:
        return None
    numeric = ltype in _NUMERIC and rtype in _NUMERIC
    exact = cond.op in _EXACT_OPS and (numeric or (cond.op in ("==", "!=") and "none" in (ltype, rtype)))
    if exact:
        return f"{left} {cond.op} {right}"
    # Strings compare ignoring case on GitHub: equal there is a necessary condition for equal
    # in Python, and different there is a sufficient one for different.
    if cond.op == "==" and ltype == rtype == "str":
        return f"{left} == {right}" if upper else None
    if cond.op == "!=" and ltype == rtype == "str":
        return None if upper else f"{left} != {right}"
    return None


def bound(cond: Condition, params: dict[str, Parameter], upper: bool = True) -> str | None:
    """An expression implied by ``cond`` (``upper``) or implying it (not ``upper``); None: maybe."""
    if isinstance(cond, Not):
        inner = bound(cond.operand, params, not upper)
        return None if inner is None else f"!({inner})"
    if isinstance(cond, BoolOp):
        parts = [bound(c, params, upper) for c in cond.operands]
        if cond.op == "and":
            known = [p for p in parts if p is not None]
            if upper:
                return " && ".join(f"({p})" for p in known) or None
            return None if len(known) < len(parts) else " && ".join(f"({p})" for p in known)
        if any(p is None for p in parts):
            return None  # an unknown alternative may be the true one (upper), or the only one
        return " || ".join(f"({p})" for p in parts if p is not None)
    assert isinstance(cond, Compare)
    return _compare(cond, params, upper)


def job_condition(cond: Condition | None, params: dict[str, Parameter]) -> str | None:
    """The part of a job's `if:` that comes from its condition, or None when there is none."""
    if cond is None:
        return None
    return bound(cond, params, upper=True)
