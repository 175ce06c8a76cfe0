"""Conditions whose comparisons cannot hold for the types involved: ``when="epochs > '3'"`` on
an int parameter (Python refuses ``3 > '3'``), ``when="flag"`` on a str parameter (a bare name
means ``flag == True``, which a string never is). Found before anything runs (S143).

An upstream output compared in a function step's condition is checked the same way where an
annotation says its type (see :class:`OperandType`); an output of unknown type is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepc.ir import ArtifactRef, Compare, Condition, Const, Parameter, ParamRef, ParamType, fold, value_type

_NUMBERS = ("int", "float", "bool")


@dataclass(frozen=True)
class OperandType:
    """What a named operand of a condition is known to hold, and how messages call it."""

    type: ParamType
    noun: str = "parameter"  # "output of step 'evaluate'" for an upstream artifact


def condition_type_problems(
    cond: Condition,
    params: Mapping[str, Parameter],
    artifacts: Mapping[ArtifactRef, OperandType] | None = None,
) -> list[tuple[str, str]]:
    """(name, message) for each comparison of a parameter, or of an upstream output of known
    type, with a value of a type it can never equal or order against."""
    known: dict[ParamRef | ArtifactRef, OperandType] = {ParamRef(n): OperandType(p.type) for n, p in params.items()}
    for ref, kind in (artifacts or {}).items():
        known[ref] = kind
    return fold(
        cond,
        lambda c: _compare_problems(c, known),
        lambda _, parts: [p for part in parts for p in part],
        lambda _, inner: inner,
    )


def _compare_problems(compare: Compare, known: Mapping[ParamRef | ArtifactRef, OperandType]) -> list[tuple[str, str]]:
    for ref, const in ((compare.left, compare.right), (compare.right, compare.left)):
        if isinstance(ref, Const) or not isinstance(const, Const) or ref not in known:
            continue
        kind, noun = known[ref].type, known[ref].noun
        if compare.op in ("in", "not in") and ref is compare.right:
            # `'a' in names`: the operand is the container; a list, dict or str can hold anything
            if kind in ("list", "dict", "str"):
                continue
            return [(ref.name, f"'{ref.name}' is {_a(kind)} {noun}: `in` needs a list, a dict or a str")]
        if compare.op in ("in", "not in") and ref is compare.left:
            values = list(const.value) if isinstance(const.value, tuple | list) else [const.value]
        else:
            values = [const.value]
        for value in values:
            if value is None or _comparable(kind, value_type(value)):
                continue
            if compare.op == "==" and value is True and ref is compare.left:
                message = (
                    f"'{ref.name}' is {_a(kind)} {noun}: a bare name in a condition tests a bool, so this never "
                    f"holds; compare it instead (e.g. {ref.name} == 'yes')"
                )
            else:
                message = (
                    f"the condition compares '{ref.name}', {_a(kind)} {noun}, with {value!r} "
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
