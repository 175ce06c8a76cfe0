"""``when`` strings to condition trees (SPEC §2.4).

The text is Python expression syntax, read with the standard ``ast`` parser and then
restricted: comparisons, ``and``/``or``/``not``, parentheses, names and literals. A bare name
means ``name == True``. Every name is a :class:`~stepc.ir.ParamRef` here; the assembly turns
those naming the step's inputs into their producers' outputs (:mod:`stepc.step_conditions`).
"""

from __future__ import annotations

import ast
import math
import re
import warnings
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
    """A name used in the text, with its place (0-based offset) for diagnostics."""

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
    shift = len(text) - len(text.lstrip())
    try:
        tree = _parse(text)
    except SyntaxError as exc:
        single_equals = _SINGLE_EQUALS.search(text)
        if single_equals and _parses(text[: single_equals.start()] + "==" + text[single_equals.end() :]):
            raise ConditionError("invalid condition: use '==' to compare, not '='", single_equals.start()) from None
        if not exc.offset:  # Python reports "ran out of text" without a place: point at the end
            raise ConditionError("invalid condition: it ends too early", len(text.rstrip())) from None
        offset = exc.offset - 1 + shift
        raise ConditionError(f"invalid condition: {exc.msg}", max(0, min(offset, len(text) - 1))) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. a NUL character, deep nesting
        raise ConditionError(f"invalid condition: {exc}", 0) from None
    names: list[NameUse] = []
    try:
        return _condition(tree.body, names, _Place(text.strip(), shift)), names
    except RecursionError:  # hundreds of nested `not`: Python parses it, our walk runs out of stack
        raise ConditionError("the condition nests too deeply to be read", 0) from None


def _parse(text: str) -> ast.Expression:
    with warnings.catch_warnings():  # "invalid decimal literal" and the like: the error is ours to report
        warnings.simplefilter("ignore")
        return ast.parse(text.strip(), mode="eval")


def _parses(text: str) -> bool:
    try:
        _parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class _Place:
    """Turns ``ast`` column offsets (UTF-8 bytes of the stripped text) into offsets in the text."""

    stripped: str
    shift: int

    def __call__(self, byte_offset: int) -> int:
        return len(self.stripped.encode()[:byte_offset].decode(errors="replace")) + self.shift

    def find(self, word: str, after: int) -> int:
        """The offset in the text of ``word`` at or after offset ``after``."""
        return self.stripped.find(word, after - self.shift) + self.shift


def _condition(node: ast.expr, names: list[NameUse], shift: _Place) -> Condition:
    if isinstance(node, ast.BoolOp):
        operands = tuple(_condition(v, names, shift) for v in node.values)
        return BoolOp("and", operands) if isinstance(node.op, ast.And) else BoolOp("or", operands)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_condition(node.operand, names, shift))
    if isinstance(node, ast.Compare):
        pairs: list[Condition] = []
        left = _operand(node.left, names, shift)
        before = node.left
        for cmpop, comparator in zip(node.ops, node.comparators, strict=True):
            if type(cmpop) not in _OPS:  # is / is not: identity means nothing for parameter values
                start = shift.find("is", shift(before.end_col_offset or before.col_offset))
                raise ConditionError("'is' compares identity: use '==' or '!=' in a condition", start, 2)
            right = _operand(comparator, names, shift)
            pairs.append(Compare(_OPS[type(cmpop)], left, right))
            left, before = right, comparator
        return pairs[0] if len(pairs) == 1 else BoolOp("and", tuple(pairs))
    if isinstance(node, ast.Name):
        return Compare("==", _operand(node, names, shift), Const(True))
    raise _unsupported(node, shift)


def _operand(node: ast.expr, names: list[NameUse], shift: _Place) -> Operand:
    if isinstance(node, ast.Name):
        names.append(NameUse(node.id, shift(node.col_offset)))
        return ParamRef(node.id)
    return Const(freeze(_literal(node, shift)))


def _literal(node: ast.expr, shift: _Place) -> Any:
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, complex)) and node.value is not ...:
        value = node.value
        out_of_range = (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, int) and not -(2**63) <= value < 2**63
        )
        if out_of_range:  # neither JSON nor the engines' expression languages hold it
            start, end = shift(node.col_offset), shift(node.end_col_offset or node.col_offset + 1)
            written = shift.stripped[start - shift.shift : end - shift.shift]
            raise ConditionError(f"{written} is out of range for a condition", start, max(1, end - start))
        return value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, shift) for e in node.elts]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        return -_literal(node.operand, shift)
    raise _unsupported(node, shift)


_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Call: "a call",
    ast.Attribute: "an attribute",
    ast.Subscript: "indexing",
    ast.BinOp: "arithmetic",
    ast.UnaryOp: "an operator",
    ast.IfExp: "an if-expression",
    ast.Lambda: "a lambda",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "an assignment",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Starred: "unpacking",
}


def _unsupported(node: ast.expr, shift: _Place) -> ConditionError:
    what = _CONSTRUCTS.get(type(node), "this construct")
    if isinstance(node, ast.Constant):
        what = "a bytes literal" if isinstance(node.value, bytes) else "this literal"
    start = shift(node.col_offset)
    end = shift(node.end_col_offset) if node.end_col_offset is not None else start + 1
    return ConditionError(
        f"'{ast.unparse(node)}' is {what}, which a condition cannot hold: use comparisons of parameters "
        "and literals joined by and/or/not",
        start,
        max(1, end - start),
    )
