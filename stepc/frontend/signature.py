"""A step function's signature: which parameters are inputs and which are pipeline parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst

from stepc.declarations import ParamDecl, conforms_param, normalise_value
from stepc.frontend.literals import Constants, NotStatic, literal_value
from stepc.ir import ParamType, value_type

BASIC_TYPES: tuple[ParamType, ...] = ("int", "float", "str", "bool", "list", "dict")
_TYPING_ALIASES = {"List": "list", "Dict": "dict"}


class SignatureError(Exception):
    def __init__(self, node: cst.CSTNode, code: str, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FunctionParam:
    name: str
    node: cst.Param
    default: Any
    has_default: bool


def function_params(func: cst.FunctionDef, constants: Constants) -> tuple[list[FunctionParam], list[SignatureError]]:
    """The named parameters, in order, with their static defaults, and every problem found."""
    params = func.params
    errors: list[SignatureError] = []
    if func.asynchronous is not None:  # the runtime calls steps, it does not await them
        message = "a step function cannot be async: make it a plain def (run an event loop inside if needed)"
        errors.append(SignatureError(func.asynchronous, "S123", message))
    if isinstance(params.star_arg, cst.Param):
        errors.append(SignatureError(params.star_arg, "S123", "a step function cannot take *args: name each parameter"))
    if params.star_kwarg is not None:
        message = "a step function cannot take **kwargs: name each parameter"
        errors.append(SignatureError(params.star_kwarg, "S123", message))
    for param in params.posonly_params:  # steps are called with keyword arguments
        message = f"parameter '{param.name.value}' is positional-only, but steps are called by keyword: drop the '/'"
        errors.append(SignatureError(param.name, "S123", message))
    result = []
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        default: Any = None
        if param.default is not None:
            try:
                default = literal_value(param.default, constants)
            except NotStatic as exc:
                errors.append(SignatureError(exc.node, "S102", f"default of '{param.name.value}': {exc.message}"))
                continue
        result.append(FunctionParam(param.name.value, param, default, param.default is not None))
    return result, errors


def annotation_type(node: cst.BaseExpression) -> tuple[ParamType, ParamType | None] | None:
    """(type, item type) for int, list[int], dict[str, float], Optional[X], X | None, typing.List[X]
    and the same written as a string (``"list[int]"``); None for any other annotation."""
    if isinstance(node, cst.SimpleString):
        try:
            return annotation_type(cst.parse_expression(str(node.evaluated_value)))
        except (cst.ParserSyntaxError, ValueError, TypeError):
            return None
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in ("typing", "t"):
        node = node.attr  # typing.List -> List
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
        node = node.with_changes(value=node.value.attr)
    if isinstance(node, cst.Name):
        name = _TYPING_ALIASES.get(node.value, node.value)
        return (name, None) if name in BASIC_TYPES else None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(other, cst.Name) and other.value == "None":
                return annotation_type(side)
        return None
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
        outer = node.value.value
        args = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)]
        if outer == "Optional" and len(args) == 1:
            return annotation_type(args[0])
        outer = _TYPING_ALIASES.get(outer, outer)
        if outer in ("list", "dict") and args:
            inner = annotation_type(args[-1])
            item = inner[0] if inner and inner[0] not in ("list", "dict") else None
            return (outer, item)  # type: ignore[return-value]
    return None


def pipeline_param(fp: FunctionParam) -> ParamDecl:
    """A :class:`ParamDecl` from a function parameter that is not an input."""
    annotation = fp.node.annotation
    if annotation is not None:
        read = annotation_type(annotation.annotation)
        if read is None:
            raise SignatureError(
                annotation.annotation,
                "S121",
                f"parameter '{fp.name}': the annotation must be one of int, float, str, bool, list, dict "
                "(or list[...] / dict[...])",
            )
        type_, item_type = read
    elif fp.has_default and fp.default is not None:
        type_, item_type = value_type(fp.default), None
    else:
        type_, item_type = "str", None
    default = fp.default
    if fp.has_default and default is not None:
        if not conforms_param(default, type_, item_type):
            shown = f"{type_}[{item_type}]" if item_type else type_
            article = "an" if shown[0] in "aeiou" else "a"
            raise SignatureError(
                fp.node.default or fp.node,
                "S122",
                f"default {default!r} of parameter '{fp.name}' is not {article} {shown}: change the default "
                "or the annotation",
            )
        default = normalise_value(default, type_, item_type)
    return ParamDecl(
        name=fp.name,
        type=type_,
        default=default,
        required=not fp.has_default,
        anchor=fp.node.name,
        item_type=item_type,
    )
