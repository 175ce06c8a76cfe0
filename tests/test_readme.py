"""The README states the commands CI runs, documents every diagnostic code, and shows the
capability and settings tables the backends declare."""

from __future__ import annotations

import os
import re

import pytest
from stepc.backends.settings import markdown_table

from stepc.commands.targets import support_markdown
from stepc.diagnostics import CODES
from stepc.targets import load_target
from tests.helpers import REPO

BUILT_IN = ["argo", "airflow", "gha", "valohai"]

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_code_table_lists_every_code_with_its_meaning() -> None:
    block = README.split("<!-- codes:start -->")[1].split("<!-- codes:end -->")[0]
    rows = dict(re.findall(r"^\| ([A-Z]\d{3}) \| (.+) \|$", block, re.M))
    assert rows == CODES


def test_ci_runs_the_readme_commands_verbatim() -> None:
    commands = re.findall(r"```sh\n(.+?)\n```", README, re.S)
    setup, tests = commands[0], commands[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert setup in ci and tests in ci


def _block(name: str) -> str:
    return README.split(f"<!-- {name}:start -->\n")[1].split(f"<!-- {name}:end -->")[0]


def _check_or_update(name: str, expected: str) -> None:
    """The README block ``name`` equals what the tables render; STEPC_UPDATE_README=1 rewrites it."""
    if os.environ.get("STEPC_UPDATE_README"):
        path = REPO / "README.md"
        text = path.read_text(encoding="utf-8")
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        head, rest = text.split(start)
        path.write_text(head + start + expected + end + rest.split(end, 1)[1], encoding="utf-8")
        return
    assert _block(name) == expected, f"README block {name} is stale: run STEPC_UPDATE_README=1 pytest {__file__}"


def test_the_capability_tables_in_the_readme_are_the_backends() -> None:
    backends = {name: load_target(name) for name in BUILT_IN}
    _check_or_update("features", support_markdown(backends))


@pytest.mark.parametrize("target", BUILT_IN)
def test_the_settings_lists_in_the_readme_are_the_backends(target: str) -> None:
    _check_or_update(f"settings:{target}", markdown_table(load_target(target).SETTINGS))
