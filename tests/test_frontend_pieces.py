"""A large module parsed in pieces is the tree of the whole parse: same code, same nodes, and
diagnostics at the same places."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from stepc.frontend import load
from stepc.frontend.pieces import parse_module

ROOT = Path(__file__).resolve().parents[1]

EDGES = {
    "semicolons": "a = 1; b = 2\nc = 3; d = 4\n\n\ne = 5\n",
    "comments between": "# head\n\nx = 1\n# about f\n\n@deco  # why\n# inside\n@other\ndef f():\n    pass\n# tail\n",
    "indented trailing comment": "def f():\n    return 1\n    # left over\n\nx = 2\n\n\ndef g():\n    pass\n",
    "no final newline": "x = 1\ny = 2\nz = 3",
    "docstring and future": '"""Doc."""\nfrom __future__ import annotations\n\nimport os\nx: int = 1\n',
    "multi-line string": 'x = """a\nb = 2\n"""\ny = (\n    1,\n)\nclass C:\n    z = 3\n',
    "continuation": "x = 1 + \\\n    2\ny = 3\nif x:\n    pass\nelse:\n    y = 4\n",
    "tabs then spaces": "def f():\n\treturn 1\n\n\ndef g():\n    return 2\n",
    "crlf": "x = 1\r\ny = 2\r\ndef f():\r\n    pass\r\n",
    "form feed": "x = 1\n\x0c\ny = 2\n",
    "blank tail": "x = 1\n\n\n\n",
}


def assert_same_tree(text: str, per_piece: int) -> None:
    pieces = parse_module(text, ast.parse(text), per_piece=per_piece, piecewise_from=0)
    assert pieces.code == text
    assert pieces.deep_equals(cst.parse_module(text))


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.parametrize("per_piece", [1, 2])
def test_edge_cases_give_the_whole_parse(name: str, per_piece: int) -> None:
    assert_same_tree(EDGES[name], per_piece)


def test_every_python_file_of_the_project_gives_the_whole_parse() -> None:
    folders = ("golden", "stepc", "backends", "tests", "bench")
    files = sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))
    assert len(files) > 100
    for path in files:
        assert_same_tree(path.read_text(encoding="utf-8"), 3)


def test_a_diagnostic_deep_in_a_large_flow_points_at_its_place(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from flows import chain_source
    finally:
        sys.path.remove(str(ROOT / "bench"))
    text = chain_source(900)
    broken = text.replace("inputs=['out849']", "inputs=['out849', 'missing']", 1)
    path = tmp_path / "large.py"
    path.write_text(broken, encoding="utf-8")
    _, diagnostics = load(str(path))
    errors = [d for d in diagnostics if d.severity == "error"]
    assert errors, diagnostics
    line_of_decorator = broken.splitlines().index(next(ln for ln in broken.splitlines() if "'missing'" in ln)) + 1
    first = errors[0]
    lines = broken.splitlines()
    assert first.line in (line_of_decorator, line_of_decorator + 1), (first.line, first.message)
    assert first.source_line == lines[first.line - 1]
    assert "missing" in first.message


def test_check_of_a_large_flow_reports_the_place_from_the_command_line(tmp_path: Path) -> None:
    lines = ["from stepc import pipeline, step", ""]
    for i in range(500):
        lines += [f"@step(outputs=['o{i}'])", f"def s{i}():", f"    return {i}", ""]
    lines += ["@step(inputs=['nowhere'])", "def last(nowhere):", "    return nowhere", ""]
    lines += ["pipeline('big', steps=[" + ", ".join(f"s{i}" for i in range(500)) + ", last])"]
    path = tmp_path / "big.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "stepc", "check", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode != 0
    expected_line = lines.index("@step(inputs=['nowhere'])") + 1
    assert f"big.py:{expected_line}:" in done.stdout + done.stderr, done.stdout + done.stderr
