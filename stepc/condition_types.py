"""Conditions whose comparisons cannot hold for the types involved: ``when="epochs > '3'"`` on
an int parameter (Python refuses ``3 > '3'``), ``when="flag"`` on a str parameter (a bare name
means ``flag == True``, which a string never is). Found before anything runs (S143)."""

from __future__ import annotations

from collections.abc import Mapping

from stepc.ir import Compare, Condition, Const, Parameter, ParamRef, fold, value_type

_NUMBERS = ("int", "float", "bool")


def condition_type_problems(cond: Condition, params: Mapping[str, Parameter]) -> list[tuple[str, str]]:
    """(parameter name, message) for each comparison of a parameter with a value of a type it
    can never equal or order against."""
    return fold(
        cond,
        lambda c: _compare_problems(c, params),
        lambda _, parts: [p for part in parts for p in part],
        lambda _, inner: inner,
    )


def _compare_problems(compare: Compare, params: Mapping[str, Parameter]) -> list[tuple[str, str]]:
    for ref, const in ((compare.left, compare.right), (compare.right, compare.left)):
        if not (isinstance(ref, ParamRef) and isinstance(const, Const) and ref.name in params):
            continue
        kind = params[ref.name].type
        if compare.op in ("in", "not in") and ref is compare.right:
            # `'a' in names`: the parameter is the container; a list, dict or str can hold anything
            if kind in ("list", "dict", "str"):
                continue
            return [(ref.name, f"'{ref.name}' is {_a(kind)} parameter: `in` needs a list, a dict or a str")]
        if compare.op in ("in", "not in") and ref is compare.left:
            values = list(const.value) if isinstance(const.value, tuple | list) else [const.value]
        else:
            values = [const.value]
        for value in values:
            if value is None or _comparable(kind, value_type(value)):
                continue
            if compare.op == "==" and value is True and ref is compare.left:
                message = (
                    f"'{ref.name}' is {_a(kind)} parameter: a bare name in a condition tests a bool, so this never "
                    f"holds; compare it instead (e.g. {ref.name} == 'yes')"
                )
            else:
                message = (
                    f"the condition compares '{ref.name}', {_a(kind)} parameter, with {value!r} "
                    f"({value_type(value)}): they never compare as meant; write the value as {_a(kind)}"
                )
            return [(ref.name, message)]
    return []


def _comparable(kind: str, other: str) -> bool:
    if kind in _NUMBERS and other in _NUMBERS:
        return True
    return kind == other


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
