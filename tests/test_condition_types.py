"""S143: conditions that compare a parameter with a value it can never equal or order against."""

from __future__ import annotations

import pytest

from stepc.condition_types import condition_type_problems
from stepc.frontend.conditions import parse_condition
from stepc.ir import Parameter

PARAMS = {
    "epochs": Parameter("epochs", "int", 3),
    "lr": Parameter("lr", "float", 0.1),
    "mode": Parameter("mode", "str", "fast"),
    "flag": Parameter("flag", "bool", False),
    "names": Parameter("names", "list", ()),
}


@pytest.mark.parametrize(
    "text",
    [
        "epochs > 3",
        "lr <= 1",  # an int literal against a float parameter
        "epochs == 2.5",
        "mode == 'fast' or mode in ['a', 'b']",
        "flag",
        "not flag and epochs != 0",
        "'a' in names",
        "'a' in mode",  # a str holds substrings
        "flag == 1",
    ],
)
def test_conditions_of_matching_types_pass(text: str) -> None:
    condition, _ = parse_condition(text)
    assert condition_type_problems(condition, PARAMS) == []


@pytest.mark.parametrize(
    ("text", "name", "says"),
    [
        ("epochs > '3'", "epochs", "an int parameter, with '3'"),
        ("mode == 3", "mode", "a str parameter, with 3"),
        ("mode", "mode", "a bare name in a condition tests a bool"),
        ("epochs in ['1', '2']", "epochs", "with '1'"),
        ("3 in epochs", "epochs", "`in` needs a list, a dict or a str"),
        ("lr > 0 and names == 'x'", "names", "a list parameter, with 'x'"),
    ],
)
def test_conditions_that_never_compare_as_meant_are_named(text: str, name: str, says: str) -> None:
    condition, _ = parse_condition(text)
    problems = condition_type_problems(condition, PARAMS)
    assert [p[0] for p in problems] == [name]
    assert says in problems[0][1]


def test_an_upstream_output_of_known_type_is_checked_as_a_parameter_is() -> None:
    from stepc.condition_types import OperandType
    from stepc.ir import ArtifactRef, BoolOp, Compare, Const, ParamRef

    score = ArtifactRef("evaluate", "score")
    known = {score: OperandType("float", "output of step 'evaluate'")}
    wrong = BoolOp("and", (Compare(">", score, ParamRef("lr")), Compare("==", score, Const("high"))))
    ((name, message),) = condition_type_problems(wrong, PARAMS, known)
    assert name == "score" and "'score', a float output of step 'evaluate', with 'high'" in message
    assert condition_type_problems(Compare(">", score, Const(1)), PARAMS, known) == []
    # an output of unknown type is not checked; a parameter of the same name is another operand
    assert condition_type_problems(Compare("==", score, Const("x")), PARAMS, {}) == []
    assert condition_type_problems(Compare("==", ArtifactRef("s", "mode"), Const(3)), PARAMS, known) == []


@pytest.mark.parametrize(
    ("returns", "outputs", "types"),
    [
        ("-> float", ["score"], (("score", "float"),)),
        ("-> tuple[dict, float]", ["model", "score"], (("model", "dict"), ("score", "float"))),
        ("-> typing.Tuple[Model, int]", ["model", "n"], (("n", "int"),)),  # a class of the user's: unknown
        ("-> tuple[int, ...]", ["a", "b"], ()),
        ("-> tuple[int, int]", ["a", "b", "c"], ()),  # another number of values
        ("-> float", ["a", "b"], ()),
        ("", ["score"], ()),
    ],
)
def test_output_types_come_from_the_return_annotation(returns: str, outputs: list[str], types: tuple) -> None:
    import libcst as cst

    from stepc.frontend.artifact_types import output_types

    func = cst.parse_module(f"def f() {returns}:\n    pass\n").body[0]
    assert isinstance(func, cst.FunctionDef)
    assert output_types(func, outputs) == types
