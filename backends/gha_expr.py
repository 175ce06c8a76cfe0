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
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    ConditionGenerator,
    Const,
    Not,
    Operand,
    Parameter,
    ParamRef,
    condition_artifacts,
    fold,
    thaw,
)
from stepc.runtime.entry import VALUE_UNKNOWN, plain_value, value_text

PARAMS = "fromJSON(needs.stepc-params.outputs.params)"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXACT_OPS = ("==", "!=", "<", "<=", ">", ">=")
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


# (step, artifact) -> the expression reading the producer job's output of the value text
ValueRefs = dict[tuple[str, str], str]


Bounds = tuple[str | None, str | None]  # (implied by the condition, implying it); None: maybe


class _Bounds(ConditionGenerator):
    """GitHub's spellings and the two bounds of each node: ``not`` swaps them, so both are
    computed in the one walk."""

    OPERATORS: ClassVar[Mapping[str, str]] = {op: op for op in _EXACT_OPS}
    BOOL_OPS: ClassVar[Mapping[str, str]] = {"and": " && ", "or": " || "}
    NOT: ClassVar[str] = "!({})"

    def __init__(self, params: dict[str, Parameter], values: ValueRefs) -> None:
        self.params = params
        self.values = values

    def param(self, ref: ParamRef) -> str | None:
        return f"{PARAMS}.{ref.name}" if _NAME.match(ref.name) else None

    def artifact(self, ref: ArtifactRef) -> str | None:
        return None  # an upstream artifact: only known at run time

    def literal(self, value: Any) -> str | None:
        return _literal(value)

    def bounds(self, cond: Condition) -> Bounds:
        return fold(
            cond,
            lambda c: (self.compare_bound(c, True), self.compare_bound(c, False)),
            self._bool_bounds,
            lambda _, inner: (self._negated(inner[1]), self._negated(inner[0])),
        )

    def _negated(self, text: str | None) -> str | None:
        return None if text is None else self.NOT.format(text)

    def _bool_bounds(self, cond: BoolOp, parts: Iterator[Bounds]) -> Bounds:
        uppers, lowers = zip(*parts, strict=True) if cond.operands else ((), ())
        if cond.op == "or":
            # An unknown alternative may be the true one (upper), or the only one (lower).
            return self.bool_op(cond, iter(uppers)), self.bool_op(cond, iter(lowers))
        known = [u for u in uppers if u is not None]
        upper = self.BOOL_OPS["and"].join(f"({u})" for u in known) or None  # dropping a part only weakens
        return upper, self.bool_op(cond, iter(lowers))

    def _type(self, operand: Operand) -> str | None:
        if isinstance(operand, ParamRef):
            return self.params[operand.name].type
        if isinstance(operand, Const):
            value = thaw(operand.value)
            kind = "bool" if isinstance(value, bool) else type(value).__name__
            return {"NoneType": "none"}.get(kind, kind)
        return None

    def compare_bound(self, cond: Compare, upper: bool) -> str | None:
        if condition_artifacts(cond):
            return self._artifact_compare(cond, upper)
        left, right = self.operand(cond.left), self.operand(cond.right)
        if left is None or right is None:
            return None
        ltype, rtype = self._type(cond.left), self._type(cond.right)
        numeric = ltype in _NUMERIC and rtype in _NUMERIC
        exact = cond.op in _EXACT_OPS and (numeric or (cond.op in ("==", "!=") and "none" in (ltype, rtype)))
        if exact:
            return f"{left} {self.OPERATORS[cond.op]} {right}"
        # Strings compare ignoring case on GitHub: equal there is a necessary condition for equal
        # in Python, and different there is a sufficient one for different.
        if cond.op == "==" and ltype == rtype == "str":
            return f"{left} == {right}" if upper else None
        if cond.op == "!=" and ltype == rtype == "str":
            return None if upper else f"{left} != {right}"
        return None

    def _artifact_compare(self, cond: Compare, upper: bool) -> str | None:
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
            return bound(either if op == "in" else Not(either), {}, upper, self.values)
        if op not in ("==", "!=") or not isinstance(left, ArtifactRef) or not isinstance(right, Const):
            return None
        ref = self.values.get((left.step, left.name))
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


def bound(
    cond: Condition, params: dict[str, Parameter], upper: bool = True, values: ValueRefs | None = None
) -> str | None:
    """An expression implied by ``cond`` (``upper``) or implying it (not ``upper``); None: maybe."""
    implied, implying = _Bounds(params, values or {}).bounds(cond)
    return implied if upper else implying


def job_condition(cond: Condition | None, params: dict[str, Parameter], values: ValueRefs | None = None) -> str | None:
    """The part of a job's `if:` that comes from its condition, or None when there is none;
    ``values`` names the job outputs of the upstream values it may read."""
    if cond is None:
        return None
    return bound(cond, params, upper=True, values=values)
