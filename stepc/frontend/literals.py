"""libcst expressions to Python values, by the static rules of SPEC §2.8.

Literals (numbers, strings, bools, None, lists, tuples, dicts of these, unary minus) and names
of module-level constants bound once to such literals are read; anything else is a
:class:`NotStatic` carrying the node to point at.
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst


class NotStatic(Exception):
    """The expression cannot be read without running the module."""

    def __init__(self, node: cst.CSTNode, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Constants:
    """Module-level names bound exactly once, by a plain assignment, to an expression."""

    def __init__(self, module: cst.Module) -> None:
        self._bound: dict[str, cst.BaseExpression] = {}
        self._rebound: set[str] = set()
        self._other: set[str] = set()  # defs, classes, imports: names that are not constants
        for statement in module.body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._read_small(small)
            elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self._other.add(statement.name.value)

    def _read_small(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                self._bind(target.value, small.value)
                return
        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value is not None:
            self._bind(small.target.value, small.value)
            return
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                local = alias.evaluated_alias or cst.helpers.get_full_name_for_node(alias.name) or ""
                self._other.add(local.partition(".")[0])

    def _bind(self, name: str, value: cst.BaseExpression) -> None:
        if name in self._bound:
            self._rebound.add(name)
        self._bound[name] = value

    def lookup(self, name: str, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        """The value of constant ``name``; errors point at ``where``, the use in the user's call."""
        if name in evaluating:
            raise NotStatic(where, f"constant '{name}' refers to itself")
        if name in self._rebound:
            raise NotStatic(where, f"'{name}' is assigned more than once at module level, so its value is not static")
        if name in self._bound:
            return literal_value(self._bound[name], self, evaluating | {name}, reported_at=where)
        if name in self._other:
            raise NotStatic(where, f"'{name}' is not a constant bound to a literal; write the value here")
        raise NotStatic(where, f"'{name}' is not a module-level constant; write the value here")


_NAMED_CONSTANTS = {"True": True, "False": False, "None": None}


def literal_value(
    node: cst.BaseExpression,
    constants: Constants,
    evaluating: frozenset[str] = frozenset(),
    reported_at: cst.CSTNode | None = None,
) -> Any:
    """The value of ``node``; errors inside a constant's definition point at its use."""
    where = reported_at or node
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
        value = ast.literal_eval(node.value)
        if isinstance(value, bytes):
            raise NotStatic(where, "bytes literals are not supported; use a str")
        return value
    if isinstance(node, cst.ConcatenatedString):
        left = literal_value(node.left, constants, evaluating, reported_at)
        right = literal_value(node.right, constants, evaluating, reported_at)
        return left + right
    if isinstance(node, cst.Name):
        if node.value in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.value]
        return constants.lookup(node.value, where, evaluating)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        operand = literal_value(node.expression, constants, evaluating, reported_at)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise NotStatic(where, "unary minus applies to numbers only")
        return -operand if isinstance(node.operator, cst.Minus) else operand
    if isinstance(node, (cst.List, cst.Tuple)):
        items = []
        for item in node.elements:
            if isinstance(item, cst.StarredElement):
                raise NotStatic(reported_at or item, "starred elements cannot be read statically")
            items.append(literal_value(item.value, constants, evaluating, reported_at))
        return items if isinstance(node, cst.List) else tuple(items)
    if isinstance(node, cst.Dict):
        result: dict[Any, Any] = {}
        for entry in node.elements:
            if not isinstance(entry, cst.DictElement):
                raise NotStatic(reported_at or entry, "'**' in a dict cannot be read statically")
            key = literal_value(entry.key, constants, evaluating, reported_at)
            if isinstance(key, (list, dict)):
                raise NotStatic(reported_at or entry.key, "dict keys must be strings or numbers")
            result[key] = literal_value(entry.value, constants, evaluating, reported_at)
        return result
    if isinstance(node, cst.FormattedString):
        raise NotStatic(where, "f-strings cannot be read statically; write a plain string")
    if isinstance(node, cst.Call):
        raise NotStatic(where, "a call cannot be read statically; write the literal value")
    raise NotStatic(where, "only literals and module-level constants can be read statically")
