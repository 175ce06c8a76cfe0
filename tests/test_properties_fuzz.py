"""Property: no input makes the front end raise. Mutated example flows, random text and random
bytes all come back as diagnostics (never the internal-error code S004) with places inside the
file, and ``stepc check`` as a process exits 0 or 1 without a traceback."""

from __future__ import annotations

import ast
import atexit
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import libcst as cst
from hypothesis import given, settings
from hypothesis import strategies as st

from stepc import ir_json
from stepc.config import find_config
from stepc.diagnostics import is_error, render
from stepc.frontend import read_file
from stepc.frontend.conditions import ConditionError, parse_condition
from stepc.frontend.source import literal_columns
from stepc.targets import available_targets, load_target
from tests.helpers import GOLDEN, REPO, stepc

# Both dialects: the golden flows and the class-dialect flows the Metaflow oracle runs.
EXAMPLES = [
    p.read_text(encoding="utf-8")
    for p in [*sorted(GOLDEN.glob("*.py")), *sorted((REPO / "tests" / "flows" / "metaflow").glob("*.py"))]
]

# Under CI the four module fuzzers below read 10,000 modules between them, every one of them
# with no S004 and no exception; a developer's run reads a few hundred.
MODULES_UNDER_CI = {"mutated": 6_000, "token_soup": 1_500, "bytes": 1_250, "text": 1_250}


def modules(kind: str) -> settings:
    """The number of modules one fuzzer reads: its share of the CI bar, or a dev-sized sample."""
    if os.environ.get("CI"):
        return settings(max_examples=MODULES_UNDER_CI[kind])
    return settings(max_examples=settings().max_examples * MODULES_UNDER_CI[kind] // MODULES_UNDER_CI["text"])


# Values that reach every branch of the argument readers once they replace a literal.
VALUES = [
    "-1", "0", "1.5", "True", "None", '"x"', '""', "[]", "[1]", '["a", "a"]', "{}", '{"cpu": "1Gi"}',
    '{"memory": "4GB"}', '{"times": -1}', '"0 99 * * *"', '"10 parsecs"', 'f"{x}"', "call()", "np.pi",
    "UNDEFINED", '"mode ==="', '"a and len(b)"', '"\\t x"', "**kw", "*args", "lambda: 1", "b'x'", "1j",
    '"é"', "(1, 2)", "(1, [2, (3,)])", '"missing_step"', "10**9", '"\\N{BULLET}"', '"mode is None"',
    "{1: 2}", "{(1, [2]): 3}", "{None: [{}]}", "1e999", "9" * 400, "4096",
    '"99999999999999999999999h"', '{"cpu": 1e300, "memory": "1e300Gi"}', "0.4",
]  # fmt: skip
TOKENS = [
    "(", ")", "[", "]", "{", "}", "'", '"', '"""', ":", ",", "=", "==", "@step", "@step(", "\n", "    ", "\t",
    "foreach=", "inputs=[", "when='", "\\", "\x00", "é", "**", "*", "/", "lambda", "async ", "def ", "class ",
    "import stepc\n", "from stepc import *\n", "pipeline(", "return", "yield", "#", "\r", "\x0c", "\ufeff",
]  # fmt: skip
STEP_KEYWORDS = ["name", "inputs", "outputs", "after", "foreach", "when", "retry", "timeout", "cache", "resources",
                 "image", "env", "rollback", "group", "weight", "tags", "description", "retries", "input"]  # fmt: skip
LITERAL = re.compile(r"""-?\d+(?:\.\d+)?|"[^"\n]*"|'[^'\n]*'|\[[^\[\]\n]*\]""")


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["literal", "keyword", "token", "delete", "duplicate", "lines", "truncate"]))
        at = draw(st.integers(0, len(text)))
        if kind == "literal":
            literals = list(LITERAL.finditer(text))
            if literals:
                literal = draw(st.sampled_from(literals))
                text = text[: literal.start()] + draw(st.sampled_from(VALUES)) + text[literal.end() :]
        elif kind == "keyword":
            spots = [m.end() for m in re.finditer(r"@step\(", text)]
            if spots:
                spot = draw(st.sampled_from(spots))
                argument = f"{draw(st.sampled_from(STEP_KEYWORDS))}={draw(st.sampled_from(VALUES))}, "
                text = text[:spot] + argument + text[spot:]
        elif kind == "token":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "duplicate":
            text = text[:at] + text[at : at + draw(st.integers(1, 200))] + text[at:]
        elif kind == "lines":
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            text = text[:at]
    return text


WORKDIR = Path(tempfile.mkdtemp(prefix="stepc-fuzz-"))  # one file, rewritten: cheaper than a dir per example
atexit.register(shutil.rmtree, WORKDIR, True)
CONFIG = find_config(WORKDIR)
TARGETS = sorted(available_targets())


def not_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def read_bytes(data: bytes) -> None:
    """``read_file`` on ``data``: it must not raise, report S004, or point outside the file."""
    path = WORKDIR / "flow.py"
    path.write_bytes(data)
    result = read_file(str(path))
    line_count = len(re.split(rb"\r\n|\r|\n", data))
    for diagnostic in result.diagnostics:
        assert diagnostic.code != "S004", diagnostic.message
        assert 1 <= diagnostic.line <= line_count and diagnostic.col >= 1, diagnostic
    for pipeline in result.pipelines:  # whatever was read is valid, strict JSON that reads back the same
        text = ir_json.to_json(pipeline)
        json.loads(text, parse_constant=not_json)
        assert ir_json.from_json(text) == pipeline
    if result.pipelines and not is_error(list(result.diagnostics)):
        for name in TARGETS:  # and every target compiles it, or says why, without raising
            for pipeline in result.pipelines:
                load_target(name)(CONFIG, None).compile(pipeline)
    formats: tuple[Literal["text", "json", "github"], ...] = ("text", "json", "github")
    for fmt in formats:
        render(list(result.diagnostics), fmt)


@modules("mutated")
@given(mutated_examples())
def test_mutated_examples_never_crash_the_front_end(text: str) -> None:
    read_bytes(text.encode("utf-8", errors="surrogatepass"))


@modules("token_soup")
@given(st.lists(st.sampled_from([*TOKENS, "a", "x", "1", " ", "step", "stepc"]), max_size=40).map("".join))
def test_token_soup_never_crashes_the_front_end(text: str) -> None:
    read_bytes(("from stepc import step, pipeline\n" + text).encode("utf-8", errors="surrogatepass"))


@modules("bytes")
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_front_end(data: bytes) -> None:
    read_bytes(b"import stepc\n" + data)


@modules("text")
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_front_end(text: str) -> None:
    read_bytes(("import stepc\n" + text).encode("utf-8", errors="surrogatepass"))


@given(
    st.lists(
        st.sampled_from(
            [
                *"ab1 ()[]'\"=<>!,.+-@*:",
                " and ",
                " or ",
                "not ",
                " in ",
                " is ",
                "None",
                "é",
                "\\t",
                "lambda",
                "1e999",
                "9" * 25,
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_conditions_parse_or_fail_cleanly_and_names_point_into_the_text(text: str) -> None:
    try:
        _, uses = parse_condition(text)
    except ConditionError as exc:
        assert 0 <= exc.offset <= len(text) and exc.length >= 1
        return
    for use in uses:
        assert text[use.offset : use.offset + len(use.name)] == use.name


@given(st.text(max_size=20), st.sampled_from(["'", '"', "'''", '"""']), st.sampled_from(["", "r", "u", "R"]))
def test_literal_columns_map_every_character_to_its_source(value: str, quote: str, prefix: str) -> None:
    body = value if prefix.lower() == "r" else repr(value)[1:-1]
    raw = f"{prefix}{quote}{body}{quote}"
    if "\r" in raw or "\n" in raw:
        return  # a literal over several lines: positions inside it are not needed
    try:
        node = cst.parse_expression(raw)
        evaluated = ast.literal_eval(raw)
    except (SyntaxError, ValueError, cst.ParserSyntaxError):
        return  # not a valid literal in this spelling
    if not isinstance(node, cst.SimpleString):
        return
    columns = literal_columns(node)
    assert columns is not None and len(columns) == len(evaluated) + 1
    assert columns == sorted(set(columns))
    for char, column in zip(evaluated, columns, strict=False):
        assert raw[column] == char or raw[column] == "\\"


@settings(max_examples=12)
@given(st.lists(mutated_examples(), min_size=5, max_size=15))
def test_stepc_check_processes_exit_0_or_1_without_a_traceback(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        paths = []
        for index, text in enumerate(texts):
            path = Path(directory) / f"flow_{index}.py"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            paths.append(str(path))
        result = stepc("check", "--format", "json", *paths)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stdout
    assert result.stderr == ""  # json goes to stdout; nothing else may leak (tracebacks, SyntaxWarnings)
    diagnostics = json.loads(result.stdout)
    assert all(d["code"] != "S004" for d in diagnostics), diagnostics
    assert result.returncode == (1 if any(d["severity"] == "error" for d in diagnostics) else 0)
