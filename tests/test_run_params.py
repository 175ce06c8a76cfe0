"""Typed parsing of ``-p name=value`` and checking of JSON/Python parameter values."""

from __future__ import annotations

import pytest

from stepc.ir import Parameter
from stepc.params import ParamError, parse_text, resolve, split_assignments

PARAMS = (
    Parameter("epochs", "int", 10),
    Parameter("lr", "float", 0.1),
    Parameter("name", "str", required=True),
    Parameter("verbose", "bool", False),
    Parameter("rates", "list", (0.1, 0.2), item_type="float"),
    Parameter("tags", "list", ()),
    Parameter("opts", "dict", {}),
)


def test_defaults_given_values_and_texts() -> None:
    values = resolve(PARAMS, {"name": "x", "epochs": 3}, {"epochs": "4", "rates": "0.5,1"})
    assert values == {
        "epochs": 4,
        "lr": 0.1,
        "name": "x",
        "verbose": False,
        "rates": [0.5, 1.0],
        "tags": [],
        "opts": {},
    }


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("epochs", " 7 ", 7),
        ("lr", "1e-3", 0.001),
        ("lr", "2", 2.0),
        ("verbose", "True", True),
        ("verbose", "no", False),
        ("name", "a=b", "a=b"),
        ("rates", "[1, 2.5]", [1, 2.5]),
        ("tags", "a, b", ["a", "b"]),
        ("tags", "", []),
        ("opts", '{"k": [1]}', {"k": [1]}),
    ],
)
def test_parse_text(name: str, text: str, value: object) -> None:
    param = next(p for p in PARAMS if p.name == name)
    assert parse_text(param, text) == value


@pytest.mark.parametrize(
    ("given", "texts", "message"),
    [
        ({}, {"epochs": "1.5"}, "parameter 'epochs' expects an int, got '1.5'"),
        ({}, {"verbose": "maybe"}, "parameter 'verbose' expects a bool (true/false), got 'maybe'"),
        ({}, {"opts": "k=1"}, "parameter 'opts' expects a dict as JSON"),
        ({}, {"rates": '[1, "x"]'}, "parameter 'rates' expects list of float, got an item 'x'"),
        ({"epochs": True}, {}, "parameter 'epochs' expects int, got bool True"),
        ({"lr": "fast"}, {}, "parameter 'lr' expects float, got str 'fast'"),
        ({"epoch": 1}, {}, "unknown parameter 'epoch' (did you mean 'epochs'?)"),
    ],
)
def test_errors_are_one_clear_line(given: dict[str, object], texts: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError) as info:
        resolve(PARAMS, {"name": "n", **given}, texts)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_required() -> None:
    with pytest.raises(ParamError, match="missing required parameter 'name' \\(str\\): pass -p name=VALUE"):
        resolve(PARAMS)


def test_split_assignments() -> None:
    assert split_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParamError, match=r"parameter 'a' is given twice \(-p a=1 and -p a=2\)"):
        split_assignments(["a=1", "b=x=y", "a=2"])
    with pytest.raises(ParamError, match="expected name=value"):
        split_assignments(["oops"])
