"""IR conditions as GitHub Actions `if:` expressions, for skipping a job before it starts.

GitHub's expressions are not Python's: strings compare ignoring case, and ``<`` on strings
compares them as numbers. So a condition becomes a *necessary* condition: an expression that
is true whenever the Python condition is true (``upper``), exact where the two languages agree
(numbers, booleans, null) and weaker elsewhere. GitHub then skips a job only when its
condition is certainly false; ``stepc exec`` decides every remaining case exactly, with the
interpreter's semantics. Parts that cannot be said at all (strings that could be read as
expressions, ordering on upstream artifacts) count as "maybe" (``None``).

Parameter values are read from the parameters job's JSON output, never pasted in as text. An
upstream artifact's value is read from the producer job's output holding its
:func:`~stepc.runtime.entry.value_text` (``values``): texts are equal exactly when the values
are, GitHub compares them ignoring case (exact for numbers and null, whose texts have no
letters that differ by case, a bound for strings), and an output that is unknown (``?``, the
value is not plain) or empty (the producer was skipped) makes the comparison "maybe".

Example, for ``route.mode == "train"``::

    (needs.route.outputs.value-route-mode == '?' || needs.route.outputs.value-route-mode == ''
     || needs.route.outputs.value-route-mode == '"train"')
"""

from __future__ import annotations

import re
from typing import Any

from stepc.ir import ArtifactRef, BoolOp, Compare, Condition, Const, Not, Parameter, ParamRef, thaw
from stepc.runtime.entry import VALUE_UNKNOWN, plain_value, value_text

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


# (step, artifact) -> the expression reading the producer job's output of the value text
ValueRefs = dict[tuple[str, str], str]


def _artifact_compare(cond: Compare, values: ValueRefs, upper: bool) -> str | None:
    """A bound of a comparison between an upstream value and a constant (see the docstring)."""
    left, right, op = cond.left, cond.right, cond.op
    if op in ("==", "!=") and isinstance(right, ArtifactRef) and not isinstance(left, ArtifactRef):
        left, right = right, left
    if op in ("in", "not in") and isinstance(left, ArtifactRef) and isinstance(right, Const):
        if not isinstance(right.value, tuple):
            return None
        alternatives = tuple(Compare("==", left, Const(v)) for v in right.value)
        if not alternatives:
            return None
        either: Condition = BoolOp("or", alternatives) if len(alternatives) > 1 else alternatives[0]
        return bound(either if op == "in" else Not(either), {}, upper, values)
    if op not in ("==", "!=") or not isinstance(left, ArtifactRef) or not isinstance(right, Const):
        return None
    ref = values.get((left.step, left.name))
    constant = thaw(right.value)
    if ref is None or not plain_value(constant):
        return None
    literal = _literal(value_text(constant))
    if literal is None:
        return None
    # Only a string's text has letters whose case matters: `==` there is a necessary condition
    # for equal (and `!=` a sufficient one for different); for numbers and null both are exact.
    text_case = isinstance(constant, str)
    if text_case and upper != (op == "=="):
        return None
    unknown = f"{ref} == {_literal(VALUE_UNKNOWN)} || {ref} == ''"
    known = f"{ref} != {_literal(VALUE_UNKNOWN)} && {ref} != ''"
    test = f"{ref} {op} {literal}"
    return f"({unknown} || {test})" if upper else f"({known} && {test})"


def _compare(cond: Compare, params: dict[str, Parameter], upper: bool, values: ValueRefs | None = None) -> str | None:
    if isinstance(cond.left, ArtifactRef) or isinstance(cond.right, ArtifactRef):
        return _artifact_compare(cond, values or {}, upper)
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


def bound(
    cond: Condition, params: dict[str, Parameter], upper: bool = True, values: ValueRefs | None = None
) -> str | None:
    """An expression implied by ``cond`` (``upper``) or implying it (not ``upper``); None: maybe."""
    if isinstance(cond, Not):
        inner = bound(cond.operand, params, not upper, values)
        return None if inner is None else f"!({inner})"
    if isinstance(cond, BoolOp):
        parts = [bound(c, params, upper, values) for c in cond.operands]
        if cond.op == "and":
            known = [p for p in parts if p is not None]
            if upper:
                return " && ".join(f"({p})" for p in known) or None
            return None if len(known) < len(parts) else " && ".join(f"({p})" for p in known)
        if any(p is None for p in parts):
            return None  # an unknown alternative may be the true one (upper), or the only one
        return " || ".join(f"({p})" for p in parts if p is not None)
    assert isinstance(cond, Compare)
    return _compare(cond, params, upper, values)


def job_condition(cond: Condition | None, params: dict[str, Parameter], values: ValueRefs | None = None) -> str | None:
    """The part of a job's `if:` that comes from its condition, or None when there is none;
    ``values`` names the job outputs of the upstream values it may read."""
    if cond is None:
        return None
    return bound(cond, params, upper=True, values=values)
