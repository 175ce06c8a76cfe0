"""The command line as users meet it: version, help, graph output, usage errors."""

from __future__ import annotations

import re

import pytest

from stepc import __version__
from stepc.cli import COMMANDS
from tests.helpers import stepc


def test_version() -> None:
    result = stepc("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command: str) -> None:
    result = stepc(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and command in result.stdout


def test_usage_errors_exit_2_without_traceback() -> None:
    for args in (("check",), ("check", "--format", "xml", "golden/iris_training.py"), ("nope",), ("ir",)):
        result = stepc(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stdout + result.stderr


def test_graph_mermaid_shows_foreach_conditions_and_groups() -> None:
    iris = stepc("graph", "golden/iris_training.py").stdout
    assert iris.startswith("flowchart TD\n")
    assert re.search(r'\[\["train<br/>foreach grid"\]\]', iris)
    assert '-->|"model"|' in iris
    etl = stepc("graph", "golden/etl_branches.py", "--format", "mermaid").stdout
    assert 'subgraph g0["group: ingest"]' in etl
    assert "when mode == 'full'" in etl


def test_graph_dot_shows_foreach_conditions_and_groups() -> None:
    iris = stepc("graph", "golden/iris_training.py", "--format", "dot").stdout
    assert iris.startswith('digraph "iris-training" {')
    assert '"train" [label="train\\nforeach grid", shape=box3d];' in iris
    assert '"train" -> "evaluate" [label="model"];' in iris
    etl = stepc("graph", "golden/etl_branches.py", "--format", "dot").stdout
    assert 'label="group: ingest";' in etl
    assert "style=dashed" in etl


def test_ir_of_a_broken_flow_prints_diagnostics_and_exits_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    flow = tmp_path / "flow.py"
    flow.write_text('from stepc import step\n\n@step(inputs=["x"])\ndef a(y):\n    return y\n', encoding="utf-8")
    result = stepc("ir", str(flow))
    assert result.returncode == 1
    assert result.stdout == ""
    assert re.search(r"flow\.py:3:15: error\[S115\]", result.stderr)
