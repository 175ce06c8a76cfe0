"""The README states the commands CI runs and documents every diagnostic code."""

from __future__ import annotations

import re

from stepc.diagnostics import CODES
from tests.helpers import REPO

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
