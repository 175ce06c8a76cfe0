"""Typed per-target settings: each backend declares its ``[tool.stepc.<target>]`` keys in one
table (:class:`Setting` rows: kind, default, one-line doc); reads take their defaults from it,
and a key the table does not know, or a value of the wrong kind, is diagnostic T103 naming the
key, the file and the line, never silently ignored.

The README's per-target settings lists are rendered from these tables (``markdown_table``) and
tests/test_readme.py keeps them equal, so documentation and code cannot drift apart.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stepc.config import CONCURRENCY, Config
from stepc.config_diagnostics import key_line, shown_path, top_level_problem
from stepc.diagnostics import Diagnostic, did_you_mean

# kind -> (what a user reads in a message, whether a TOML value is of that kind)
KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "integer": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "boolean": ("true or false", lambda v: isinstance(v, bool)),
    # TOML has dates of its own (start_date = 2024-01-01) besides the quoted form
    "date": (
        "a date like 2024-01-01",
        lambda v: type(v) is datetime.date or (isinstance(v, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v))),
    ),
    "strings": (
        "a string or a list of strings",
        lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
    ),
    "table": ("a table of strings", lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values())),
    "capacity": (
        "a table of cpu, memory and gpu",
        lambda v: isinstance(v, dict) and set(v) <= {"cpu", "memory", "gpu"},
    ),
    "machines": ("a list of tables", lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)),
    "tables": ("a list of tables", lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)),
    "object": ("a table", lambda v: isinstance(v, dict)),
}


@dataclass(frozen=True)
class Setting:
    """One ``[tool.stepc.<target>]`` key: its kind (a :data:`KINDS` key), its default (None:
    unset, the backend decides, and ``shown`` says what), and what it does."""

    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    shown: str = ""  # the default as the README shows it, when it is not the value itself
    minimum: int | None = None  # for an integer: the least value it takes
    # A target's own rule on a value of the right kind: what is wrong with it, or None.
    check: Callable[[Any], str | None] | None = None
    # A step may set it too, in `@step(engine={target: {key: value}})`; this key of
    # `[tool.stepc.<target>]` is then every step's default.
    step: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not a value of this setting, or None when it is."""
        if self.choices:
            if value in self.choices:
                return None
            return "one of " + ", ".join(f'"{c}"' for c in self.choices) + f", not {value!r}"
        what, accepts = KINDS[self.kind]
        if not accepts(value):
            return f"{what}, not {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"at least {self.minimum}, not {value!r}"
        return self.check(value) if self.check is not None else None

    def default_text(self) -> str:
        if self.shown:
            return self.shown
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if isinstance(self.default, dict):
            inner = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in self.default.items())
            return f"`{{{inner}}}`"
        if isinstance(self.default, str):
            return f'`"{self.default}"`'
        return f"`{self.default}`"


def kind_text(setting: Setting) -> str:
    if setting.choices:
        return " or ".join(f'`"{c}"`' for c in setting.choices)
    return KINDS[setting.kind][0]


def markdown_table(settings: Mapping[str, Setting]) -> str:
    """The README's table of a target's settings, keys sorted."""
    rows = ["| key | value | default | what it does |", "|---|---|---|---|"]
    for key in sorted(settings):
        s = settings[key]
        per_step = "; a step may set its own (`engine=`)" if s.step else ""
        rows.append(f"| `{key}` | {kind_text(s)} | {s.default_text()} | {s.doc}{per_step} |")
    return "\n".join(rows) + "\n"


# --- checking a project's settings ------------------------------------------------------------


def check_settings(config: Config, target: str, table: Mapping[str, Setting]) -> list[Diagnostic]:
    """T103 for each key of the project's ``[tool.stepc.<target>]`` table that ``table`` does
    not declare, or whose value is not of the declared kind; keys sorted."""
    raw = config.settings.get(target)
    if raw is None:
        return []
    path = config.file
    in_pyproject = path is None or path.name == "pyproject.toml"
    header = f"[tool.stepc.{target}]" if in_pyproject else f"[{target}]"
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
    except (OSError, UnicodeDecodeError):
        lines = []
    shown = shown_path(path) if path is not None else "pyproject.toml"

    def at(key: str, message: str) -> Diagnostic:
        line = key_line(lines, header, key) if key else 1
        text = (lines[line - 1] if 0 < line <= len(lines) else "").expandtabs(1)
        col = text.find(key) + 1 if key and key in text else 1
        end = col + len(key) if key and key in text else None
        return Diagnostic("T103", message, shown, line, col, source_line=text, end_col=end)

    if not isinstance(raw, dict):
        return [at("", f"{header} is a table of settings, not {raw!r}")]
    found = []
    valid = (
        f"the {target} settings are: {', '.join(sorted(table))}" if table else f"the {target} target has no settings"
    )
    for key in sorted(raw):
        setting = table.get(key)
        if setting is None:
            hint = did_you_mean(key, table)
            found.append(at(key, f"unknown setting '{key}' in {header}{hint}; {valid}"))
        elif (problem := setting.problem(raw[key])) is not None:
            found.append(at(key, f"setting '{key}' in {header} is {problem}"))
    return found


def check_project_setting(config: Config, key: str, wanted: Callable[[Any], str | None]) -> list[Diagnostic]:
    """T103 for a top-level ``[tool.stepc]`` key a target reads whose value ``wanted`` refuses
    (it says what the value should be), at the key's line; none when the key is unset."""
    raw = config.settings.get(key)
    problem = None if raw is None else wanted(raw)
    return [] if problem is None else [top_level_problem(config, key, problem)]


def concurrency_problem(value: Any) -> str | None:
    """Why a ``[tool.stepc] concurrency`` value is not one, or None."""
    if value in CONCURRENCY:
        return None
    return "one of " + ", ".join(f'"{c}"' for c in CONCURRENCY) + f", not {value!r}"
