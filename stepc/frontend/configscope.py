"""Reading Metaflow ``Config`` values statically: what a flow class's body may write with them.

A Config is fixed when the flow is read, so stepc evaluates its uses then, as Metaflow does when
it deploys a flow:

* In the class body (decorator arguments, parameter defaults), :class:`ClassScope`: a config's
  class attribute followed by attributes and subscripts (``cfg.a.b``, ``cfg["a"]``), and
  ``config_expr("...")`` (optionally followed by the same).
* Inside a ``config_expr`` string, :class:`ExpressionScope`: a small, pure subset of Python over
  the configs (by their names), the module's constants and its one-``return`` functions:
  literals, attributes and subscripts, arithmetic, comparisons, ``and``/``or``/``not``,
  conditional expressions, a few builtins (``str``, ``int``, ``len``, ...) and the methods of
  str and dict that only read.

Anything else is a :class:`NotStatic` at its place, with what to write instead.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import libcst as cst

from stepc.frontend.imports import ImportTable
from stepc.frontend.literals import Constants, NotStatic, literal_value

MAX_CALL_DEPTH = 20  # a function of the module calling another, at most this deep
MAX_SIZE = 100_000  # the longest string or list an operation may build ("-" * n, s.ljust(n))

_BUILTINS: dict[str, Callable[..., Any]] = {
    "str": str, "int": int, "float": float, "bool": bool, "len": len, "abs": abs, "round": round,
    "min": min, "max": max, "sorted": sorted, "list": list, "tuple": tuple, "sum": sum,
}  # fmt: skip
_READING_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        (
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "replace",
            "split",
            "rsplit",
            "join",
            "format",
            "startswith",
            "endswith",
            "title",
            "capitalize",
            "casefold",
            "zfill",
            "center",
            "ljust",
            "rjust",
            "partition",
            "rpartition",
            "count",
            "find",
            "rfind",
            "isdigit",
            "isalpha",
            "isalnum",
        )
    ),
    dict: frozenset(("get", "keys", "values", "items")),
    list: frozenset(("index", "count")),
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    cst.Add: operator.add, cst.Subtract: operator.sub, cst.Multiply: operator.mul, cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv, cst.Modulo: operator.mod, cst.Power: operator.pow,
}  # fmt: skip
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt, cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt, cst.GreaterThanEqual: operator.ge,
    cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
    cst.Is: operator.is_, cst.IsNot: operator.is_not,
}  # fmt: skip


def member(value: Any, name: str, where: cst.CSTNode) -> Any:
    """``value.name`` as Metaflow's ConfigValue answers it: a key of a mapping."""
    if isinstance(value, Mapping) and name in value:
        return value[name]
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(map(str, value))) or "none"
        raise NotStatic(where, f"the config has no key '{name}' here (its keys: {keys})")
    raise NotStatic(where, f"'.{name}' of a {type(value).__name__} value cannot be read statically")


def item(value: Any, key: Any, where: cst.CSTNode) -> Any:
    try:
        return value[key]
    except (KeyError, IndexError, TypeError) as exc:
        raise NotStatic(where, f"[{key!r}] of this config value: {type(exc).__name__}") from None


class ClassScope:
    """Names a flow class's body can read: its configs' attributes first, then the module's
    constants (a class attribute shadows a module name in Python too)."""

    def __init__(
        self,
        constants: Constants,
        imports: ImportTable,
        attributes: Mapping[str, Any],
        by_name: Mapping[str, Any],
        functions: Mapping[str, cst.FunctionDef],
    ) -> None:
        self.constants = constants
        self.imports = imports
        self.attributes = attributes
        self.by_name = by_name  # what a config_expr string sees: configs by their names
        self.functions = functions

    def lookup(self, name: str, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        if name in self.attributes:
            return self.attributes[name]
        return self.constants.lookup(name, where, evaluating)

    def definition(self, name: str) -> cst.BaseExpression | None:
        return self.constants.definition(name)

    def compound(self, node: cst.BaseExpression, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        if not self._about_configs(node):
            return self.constants.compound(node, where, evaluating)
        if isinstance(node, cst.Call):  # config_expr("...")
            return self.expression(node, where)
        if isinstance(node, cst.Attribute):
            return member(literal_value(node.value, self, evaluating, where), node.attr.value, where)
        assert isinstance(node, cst.Subscript)
        base = literal_value(node.value, self, evaluating, where)
        return item(base, _subscript_key(node, self, evaluating, where), where)

    def _about_configs(self, node: cst.BaseExpression) -> bool:
        """Whether ``node`` is a chain of attributes and subscripts over a config or a
        ``config_expr(...)``: what Metaflow delays until the configs are known."""
        while isinstance(node, (cst.Attribute, cst.Subscript)):
            node = node.value
        if isinstance(node, cst.Call):
            return self.imports.refers_to(node.func, "config_expr")
        return isinstance(node, cst.Name) and node.value in self.attributes

    def expression(self, call: cst.Call, where: cst.CSTNode) -> Any:
        """The value of ``config_expr("<expression>")``."""
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            raise NotStatic(call, 'config_expr takes one string: config_expr("cfg.some.value")')
        try:
            text = literal_value(call.args[0].value, self.constants)
        except NotStatic as exc:
            raise NotStatic(exc.node, f"config_expr: {exc.message}") from None
        if not isinstance(text, str):
            raise NotStatic(call.args[0], 'config_expr takes one string: config_expr("cfg.some.value")')
        try:
            parsed = cst.parse_expression(text)
        except cst.ParserSyntaxError:
            raise NotStatic(call.args[0], f"config_expr: {text!r} is not a Python expression") from None
        scope = ExpressionScope(self.constants, self.by_name, self.functions, self.imports)
        try:
            return scope.evaluate(parsed)
        except NotStatic as exc:
            # The string's own nodes have no place in the file: point at the string.
            raise NotStatic(call.args[0], f"config_expr({text!r}): {exc.message}") from None


class ExpressionScope:
    """What a ``config_expr`` string reads: the configs by name as local names, over the
    module's constants and functions, as Metaflow's ``eval`` of it sees them."""

    def __init__(
        self,
        constants: Constants,
        local: Mapping[str, Any],
        functions: Mapping[str, cst.FunctionDef],
        imports: ImportTable,
        depth: int = 0,
    ) -> None:
        self.constants = constants
        self.local = local
        self.functions = functions
        self.imports = imports
        self.depth = depth

    def evaluate(self, node: cst.BaseExpression) -> Any:
        return literal_value(node, self)

    def lookup(self, name: str, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        if name in self.local:
            return self.local[name]
        return self.constants.lookup(name, where, evaluating)

    def definition(self, name: str) -> cst.BaseExpression | None:
        return self.constants.definition(name)

    def compound(self, node: cst.BaseExpression, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:

        def value(operand: cst.BaseExpression) -> Any:
            return literal_value(operand, self, evaluating, where)

        if isinstance(node, cst.Attribute):
            return member(value(node.value), node.attr.value, where)
        if isinstance(node, cst.Subscript):
            return item(value(node.value), _subscript_key(node, self, evaluating, where), where)
        if isinstance(node, cst.BinaryOperation) and type(node.operator) in _BINARY:
            return _apply(_BINARY[type(node.operator)], (value(node.left), value(node.right)), where)
        if isinstance(node, cst.Comparison):
            left = value(node.left)
            for target in node.comparisons:
                right = value(target.comparator)
                if not _apply(_COMPARE[type(target.operator)], (left, right), where):
                    return False
                left = right
            return True
        if isinstance(node, cst.BooleanOperation):
            left = value(node.left)
            if isinstance(node.operator, cst.And):
                return value(node.right) if left else left
            return left if left else value(node.right)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            return not value(node.expression)
        if isinstance(node, cst.IfExp):
            return value(node.body) if value(node.test) else value(node.orelse)
        if isinstance(node, cst.Call):
            return self._call(node, where, evaluating)
        return self.constants.compound(node, where, evaluating)

    def _call(self, node: cst.Call, where: cst.CSTNode, evaluating: frozenset[str]) -> Any:
        if any(a.star or a.keyword is not None for a in node.args):
            raise NotStatic(where, "calls with keyword or starred arguments cannot be read statically")
        arguments = [literal_value(a.value, self, evaluating, where) for a in node.args]
        func = node.func
        if isinstance(func, cst.Attribute):
            owner = literal_value(func.value, self, evaluating, where)
            allowed = next((m for t, m in _READING_METHODS.items() if isinstance(owner, t)), frozenset())
            if func.attr.value not in allowed:
                what = f"method '{func.attr.value}' of a {type(owner).__name__}"
                raise NotStatic(where, f"{what} cannot be read statically")
            return _apply(getattr(owner, func.attr.value), arguments, where)
        if isinstance(func, cst.Name) and func.value in self.functions and func.value not in self.local:
            return self._call_function(self.functions[func.value], arguments, where)
        if isinstance(func, cst.Name) and func.value in _BUILTINS and self.constants.definition(func.value) is None:
            return _apply(_BUILTINS[func.value], arguments, where)
        message = "only str, int, float, bool, len, ... and this module's one-return functions can be called"
        raise NotStatic(where, message)

    def _call_function(self, function: cst.FunctionDef, arguments: list[Any], where: cst.CSTNode) -> Any:
        """A module function whose body is one ``return <expression>`` (after a docstring),
        called with positional arguments: its parameters over the module's names."""
        name = function.name.value
        body = [s for s in _statements(function) if not _is_docstring(s)]
        returned = body[0].body[0] if len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) else None
        if not isinstance(returned, cst.Return) or returned.value is None:
            raise NotStatic(where, f"function '{name}' is more than one `return <expression>`")
        params = function.params
        if isinstance(params.star_arg, cst.Param) or params.kwonly_params or params.star_kwarg or params.posonly_params:
            raise NotStatic(where, f"function '{name}' takes only plain parameters here")
        if len(arguments) != len(params.params) or any(p.default is not None for p in params.params):
            raise NotStatic(where, f"call function '{name}' with exactly its {len(params.params)} argument(s)")
        if self.depth >= MAX_CALL_DEPTH:
            raise NotStatic(where, f"functions call each other more than {MAX_CALL_DEPTH} deep")
        local = {p.name.value: a for p, a in zip(params.params, arguments, strict=True)}
        inner = ExpressionScope(self.constants, local, self.functions, self.imports, self.depth + 1)
        try:
            return inner.evaluate(returned.value)
        except NotStatic as exc:
            raise NotStatic(where, f"in function '{name}': {exc.message}") from None


def _subscript_key(node: cst.Subscript, scope: Any, evaluating: frozenset[str], where: cst.CSTNode) -> Any:
    element = node.slice[0].slice if len(node.slice) == 1 else None
    if not isinstance(element, cst.Index):
        raise NotStatic(where, "only a single key or index can be read statically: x['key']")
    return literal_value(element.value, scope, evaluating, where)


def _apply(function: Callable[..., Any], arguments: Any, where: cst.CSTNode) -> Any:
    if _too_large(function, list(arguments)):
        raise NotStatic(where, "this value would be too large to read statically")
    try:
        return function(*arguments)
    except Exception as exc:  # the user's expression fails as it would under Metaflow
        raise NotStatic(where, f"{type(exc).__name__}: {exc}") from None


def _too_large(function: Callable[..., Any], arguments: list[Any]) -> bool:
    """Whether a call would build an unreasonably large value (``"x" * 10**9``, ``9 ** 9 ** 9``)
    that reading a flow must not wait for."""
    numbers = [a for a in arguments if isinstance(a, int) and not isinstance(a, bool)]
    if function is operator.pow:
        base, exponent = arguments
        numeric = all(isinstance(a, (int, float)) for a in arguments)
        return numeric and abs(exponent) > 64 and abs(base) > 1
    sized = any(isinstance(a, (str, list, tuple)) for a in arguments) or isinstance(
        getattr(function, "__self__", None), str
    )
    return sized and any(abs(n) > MAX_SIZE for n in numbers)


def _statements(function: cst.FunctionDef) -> list[cst.BaseStatement]:
    body = function.body
    if isinstance(body, cst.SimpleStatementSuite):  # def f(x): return x.a
        return [cst.SimpleStatementLine(body=body.body)]
    assert isinstance(body, cst.IndentedBlock)
    return list(body.body)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
