"""libcst expressions to Python values, by the static rules of SPEC §2.8.

Literals (numbers, strings, bools, None, lists, tuples, dicts of these, unary minus) and names
of module-level constants bound once to such literals are read; anything else is a
:class:`NotStatic` carrying the node to point at.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Protocol

import libcst as cst

MAX_CHAIN = 50  # constants defined through constants, at most this deep


class NotStatic(Exception):
    """The expression cannot be read without running the module."""

    def __init__(self, node: cst.CSTNode, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Scope(Protocol):
    """What names and non-literal expressions mean where a value is read: the module's
    :class:`Constants`, or a scope over them that knows more (a flow class's configs)."""

    def lookup(self, name: str, where: cst.CSTNode, evaluating: frozenset[str]) -> Any: ...

    def compound(self, node: cst.BaseExpression, where: cst.CSTNode, evaluating: frozenset[str]) -> Any: ...

    def definition(self, name: str) -> cst.BaseExpression | None: ...


class Constants:
    """Module-level names bound exactly once, by a plain assignment, to an expression.

    Only top-level statements are read. A name bound more than once (assigned twice, augmented,
    a loop target, bound inside a top-level ``if``/``for``/``try``/``with``) has no static value.
    """

    def __init__(self, module: cst.Module) -> None:
        self._bound: dict[str, cst.BaseExpression] = {}
        self._rebound: set[str] = set()
        self._dynamic: set[str] = set()  # bound by unpacking or inside a top-level block
        self._imported: set[str] = set()
        self._other: set[str] = set()  # defs and classes: names that are not constants
        for statement in module.body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._read_small(small)
            elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self._other.add(statement.name.value)
            else:  # compound statements are rare in flows: a generic walk is affordable here
                statement.visit(_BindingCollector(self._dynamic))

    def _read_small(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                if isinstance(target.target, cst.Name):
                    self._bind(target.target.value, small.value)
                else:
                    self._dynamic.update(_target_names(target.target))
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            if isinstance(small.target, cst.Name):
                self._bind(small.target.value, small.value)
        elif isinstance(small, cst.AugAssign):
            self._rebound.update(_target_names(small.target))
        elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                local = alias.evaluated_alias or cst.helpers.get_full_name_for_node(alias.name) or ""
                self._imported.add(local.partition(".")[0])

    def _bind(self, name: str, value: cst.BaseExpression) -> None:
        if name in self._bound:
            self._rebound.add(name)
        self._bound[name] = value

    def lookup(self, name: str, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        """The value of constant ``name``; errors point at ``where``, the use in the user's call."""
        if name in evaluating:
            raise NotStatic(where, f"constant '{name}' refers to itself")
        if len(evaluating) >= MAX_CHAIN:  # a deeper chain would exhaust Python's stack
            raise NotStatic(where, f"constant '{name}' is reached through more than {MAX_CHAIN} other constants")
        if name in self._rebound:
            raise NotStatic(where, f"'{name}' is assigned more than once at module level, so its value is not static")
        if name in self._dynamic:
            raise NotStatic(
                where,
                f"'{name}' is bound by an unpacking, a loop or a block at module level, so its value is not static; "
                "write the value here",
            )
        if name in self._imported:
            message = f"'{name}' is imported from another module, so its value is not static; write it here"
            raise NotStatic(where, message)
        if name in self._bound:
            return literal_value(self._bound[name], self, evaluating | {name}, reported_at=where)
        if name in self._other:
            raise NotStatic(where, f"'{name}' is not a constant bound to a literal; write the value here")
        raise NotStatic(where, f"'{name}' is not a module-level constant; write the value here")

    def compound(self, node: cst.BaseExpression, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        """The value of what is not a literal (a call, an attribute, an operation): none has one
        here. A scope that knows more (a flow class's configs) reads some."""
        if isinstance(node, cst.Call):
            raise NotStatic(where, "a call cannot be read statically; write the literal value")
        if isinstance(node, cst.Attribute):
            raise NotStatic(where, "a name from another module cannot be read statically; write the value here")
        raise NotStatic(where, "only literals and module-level constants can be read statically")

    def definition(self, name: str) -> cst.BaseExpression | None:
        """The expression a module-level name is bound to, when it is bound exactly once."""
        if name in self._rebound or name in self._dynamic or name in self._imported:
            return None
        return self._bound.get(name)


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    return []


class _BindingCollector(cst.CSTVisitor):
    """Names bound by a top-level compound statement, outside nested functions and classes."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.names.update(_target_names(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.names.update(_target_names(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.names.update(_target_names(node.target))

    def visit_For(self, node: cst.For) -> None:
        self.names.update(_target_names(node.target))

    def visit_AsName(self, node: cst.AsName) -> None:
        if isinstance(node.name, cst.Name):
            self.names.add(node.name.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.names.update(_target_names(node.target))


_NAMED_CONSTANTS = {"True": True, "False": False, "None": None}


def literal_value(
    node: cst.BaseExpression,
    constants: Scope,
    evaluating: frozenset[str] = frozenset(),
    reported_at: cst.CSTNode | None = None,
) -> Any:
    """The value of ``node``; errors inside a constant's definition point at its use."""
    try:
        return _value(node, constants, evaluating, reported_at)
    except RecursionError:  # e.g. a thousand nested unary minuses
        raise NotStatic(reported_at or node, "the value nests too deeply to be read") from None


def static_problems(node: cst.BaseExpression, constants: Scope) -> list[NotStatic]:
    """Every entry of a dict, list or tuple display that cannot be read, each at its own place:
    :func:`literal_value` stops at the first, and a user should fix them all in one go."""
    if isinstance(node, cst.Dict):
        parts: list[cst.BaseExpression] = [cst.Dict([entry]) for entry in node.elements]
    elif isinstance(node, (cst.List, cst.Tuple)):
        parts = [cst.List([element]) for element in node.elements]
    else:
        parts = [node]
    found = []
    for part in parts:  # a one-entry display keeps the entry's nodes, so each error keeps its place
        try:
            literal_value(part, constants)
        except NotStatic as exc:
            found.append(exc)
    return found


def _value(
    node: cst.BaseExpression,
    constants: Scope,
    evaluating: frozenset[str],
    reported_at: cst.CSTNode | None,
) -> Any:
    where = reported_at or node
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
        value = _token_value(node)
        if isinstance(value, bytes):
            raise NotStatic(where, "bytes literals are not supported; use a str")
        if isinstance(value, float) and not math.isfinite(value):  # 1e999: JSON cannot hold it
            raise NotStatic(where, f"{node.value} is too large to be a finite number")
        if isinstance(value, int) and not -(2**63) <= value < 2**63:  # what engines and JSON readers hold
            raise NotStatic(where, "this number does not fit in 64 bits")
        return value
    if isinstance(node, cst.ConcatenatedString):
        left = _value(node.left, constants, evaluating, reported_at)
        right = _value(node.right, constants, evaluating, reported_at)
        return left + right
    if isinstance(node, cst.Name):
        if node.value in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.value]
        return constants.lookup(node.value, where, evaluating)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        operand = _value(node.expression, constants, evaluating, reported_at)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise NotStatic(where, "unary minus applies to numbers only")
        return -operand if isinstance(node.operator, cst.Minus) else operand
    if isinstance(node, (cst.List, cst.Tuple)):
        items = []
        for item in node.elements:
            if isinstance(item, cst.StarredElement):
                raise NotStatic(reported_at or item, "starred elements cannot be read statically")
            items.append(_value(item.value, constants, evaluating, reported_at))
        return items if isinstance(node, cst.List) else tuple(items)
    if isinstance(node, cst.Dict):
        result: dict[Any, Any] = {}
        for entry in node.elements:
            if not isinstance(entry, cst.DictElement):
                raise NotStatic(reported_at or entry, "'**' in a dict cannot be read statically")
            key = _value(entry.key, constants, evaluating, reported_at)
            if not isinstance(key, str):  # values travel as JSON, whose keys are strings
                raise NotStatic(reported_at or entry.key, f"dict keys must be strings: write {str(key)!r}")
            result[key] = _value(entry.value, constants, evaluating, reported_at)
        return result
    if isinstance(node, cst.FormattedString):
        raise NotStatic(where, "f-strings cannot be read statically; write a plain string")
    return constants.compound(node, where, evaluating)


def _token_value(node: cst.SimpleString | cst.Integer | cst.Float) -> Any:
    """The value of a literal token; the common spellings without ``ast.literal_eval``,
    which compiles its argument and is the most expensive step of reading a flow."""
    raw = node.value
    if isinstance(node, cst.SimpleString):
        if raw[0] in "'\"" and "\\" not in raw and "\r" not in raw:
            quote = 3 if raw[:3] in ('"""', "'''") else 1
            return raw[quote:-quote]
    elif isinstance(node, cst.Integer):
        return int(raw.replace("_", ""), 0)
    elif "j" not in raw.lower():
        return float(raw.replace("_", ""))
    return ast.literal_eval(raw)
