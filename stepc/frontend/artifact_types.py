"""The types of a step's inputs and outputs where annotations say them, so that a condition
comparing an upstream output (``when="score > 0.5"``) is type-checked as one on a parameter is.

An input's type is its parameter's annotation (``def deploy(model, score: float)``); an
output's is the function's return annotation (``-> float`` for one output, ``-> tuple[dict,
float]`` for several, in order). Anything else (no annotation, a class of the user's) is
unknown, and a condition on it is not checked.
"""

from __future__ import annotations

import libcst as cst

from stepc.frontend.signature import FunctionParam, annotation_type
from stepc.ir import ParamType

Typed = tuple[tuple[str, ParamType], ...]  # (artifact name, type), in declaration order


def input_types(fparams: list[FunctionParam], inputs: list[str]) -> Typed:
    """The annotated type of each input whose parameter says one."""
    by_name = {fp.name: fp for fp in fparams}
    found: list[tuple[str, ParamType]] = []
    for name in inputs:
        fp = by_name.get(name)
        kind = _type(fp.node.annotation.annotation) if fp is not None and fp.node.annotation else None
        if kind is not None:
            found.append((name, kind))
    return tuple(found)


def output_types(func: cst.FunctionDef, outputs: list[str]) -> Typed:
    """The type the return annotation gives each output, where it gives one."""
    if func.returns is None or not outputs:
        return ()
    annotation = func.returns.annotation
    if len(outputs) == 1:
        kind = _type(annotation)
        return ((outputs[0], kind),) if kind is not None else ()
    elements = _tuple_elements(annotation)
    if elements is None or len(elements) != len(outputs):
        return ()  # not a tuple of as many values: S141 reports a mismatch where returns show it
    return tuple((name, kind) for name, node in zip(outputs, elements, strict=True) if (kind := _type(node)))


def _tuple_elements(node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The element annotations of ``tuple[a, b]`` / ``typing.Tuple[a, b]``, else None."""
    if not isinstance(node, cst.Subscript):
        return None
    head = node.value.attr if isinstance(node.value, cst.Attribute) else node.value
    if not isinstance(head, cst.Name) or head.value not in ("tuple", "Tuple"):
        return None
    elements = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)]
    if any(isinstance(e, cst.Ellipsis) for e in elements):
        return None  # tuple[int, ...]: one type for any length
    return elements


def _type(node: cst.BaseExpression) -> ParamType | None:
    read = annotation_type(node)
    return read[0] if read is not None else None
