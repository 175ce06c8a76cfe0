"""``when`` strings to condition trees (SPEC §2.4).

The text is Python expression syntax, read with the standard ``ast`` parser and then
restricted: comparisons, ``and``/``or``/``not``, parentheses, parameter names and literals.
A bare parameter name means ``name == True``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from stepc.ir import BoolOp, Compare, Condition, Const, Not, Operand, ParamRef, freeze

_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")

_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


@dataclass(frozen=True)
class NameUse:
    """A parameter name used in the text, with its place (0-based offset) for diagnostics."""

    name: str
    offset: int


class ConditionError(Exception):
    def __init__(self, message: str, offset: int, length: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = length


def parse_condition(text: str) -> tuple[Condition, list[NameUse]]:
    """The tree for ``text`` and the names it uses; :class:`ConditionError` when it is not valid."""
    if "\n" in text or "\r" in text:
        raise ConditionError("a condition must be on one line", 0)
    if not text.strip():
        raise ConditionError("empty condition", 0)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = (exc.offset or 1) - 1 + (len(text) - len(text.lstrip()))
        single_equals = _SINGLE_EQUALS.search(text)
        if single_equals:
            raise ConditionError("invalid condition: use '==' to compare, not '='", single_equals.start()) from None
        raise ConditionError(f"invalid condition: {exc.msg}", max(0, min(offset, len(text) - 1))) from None
    shift = len(text) - len(text.lstrip())
    names: list[NameUse] = []
    return _condition(tree.body, names, shift), names


def _condition(node: ast.expr, names: list[NameUse], shift: int) -> Condition:
    if isinstance(node, ast.BoolOp):
        operands = tuple(_condition(v, names, shift) for v in node.values)
        return BoolOp("and", operands) if isinstance(node.op, ast.And) else BoolOp("or", operands)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_condition(node.operand, names, shift))
    if isinstance(node, ast.Compare):
        pairs: list[Condition] = []
        left = _operand(node.left, names, shift)
        for cmpop, comparator in zip(node.ops, node.comparators, strict=True):
            right = _operand(comparator, names, shift)
            pairs.append(Compare(_OPS[type(cmpop)], left, right))
            left = right
        return pairs[0] if len(pairs) == 1 else BoolOp("and", tuple(pairs))
    if isinstance(node, ast.Name):
        return Compare("==", _operand(node, names, shift), Const(True))
    raise _unsupported(node, shift)


def _operand(node: ast.expr, names: list[NameUse], shift: int) -> Operand:
    if isinstance(node, ast.Name):
        names.append(NameUse(node.id, node.col_offset + shift))
        return ParamRef(node.id)
    return Const(freeze(_literal(node, shift)))


def _literal(node: ast.expr, shift: int) -> Any:
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, complex)) and node.value is not ...:
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, shift) for e in node.elts]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    raise _unsupported(node, shift)


def _unsupported(node: ast.expr, shift: int) -> ConditionError:
    what = type(node).__name__.lower()
    length = (node.end_col_offset or node.col_offset + 1) - node.col_offset
    return ConditionError(
        f"'{ast.unparse(node)}' ({what}) is not allowed in a condition: use comparisons of parameters "
        "and literals joined by and/or/not",
        node.col_offset + shift,
        length,
    )
