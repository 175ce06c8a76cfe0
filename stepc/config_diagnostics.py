"""Diagnostics about the project's config file (``[tool.stepc]`` in pyproject.toml, or
stepc.toml): where a key is written, and the file as the user types its name."""

from __future__ import annotations

import os
import re
from pathlib import Path

from stepc.config import Config
from stepc.diagnostics import Diagnostic


def shown_path(path: Path) -> str:
    """The config file as a user types it: relative to the working directory when under it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def key_line(lines: list[str], header: str, key: str) -> int:
    """The 1-based line of ``key = ...`` under the table ``header`` (the header's line for a key
    written some other way; 1 when the table is not written as a header at all)."""
    start = None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if start is None:
            if re.fullmatch(re.escape(header) + r"\s*(#.*)?", text):
                start = number
            continue
        if text.startswith("["):
            break
        if re.match(re.escape(key) + r"\s*=|\"" + re.escape(key) + r"\"\s*=", text):
            return number
    return start or 1


def top_level_problem(config: Config, key: str, wanted: str) -> Diagnostic:
    """T103 at the top-level ``key`` (``[tool.stepc]`` or the top of a ``stepc.toml``) whose
    value is not ``wanted`` (e.g. ``a string, not 3``)."""
    path = config.file
    in_pyproject = path is None or path.name == "pyproject.toml"
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
    except (OSError, UnicodeDecodeError):
        lines = []
    if in_pyproject:
        line = key_line(lines, "[tool.stepc]", key)
    else:  # stepc.toml: the top-level keys come before the first table
        top = [n for n, text in enumerate(lines, 1) if re.match(re.escape(key) + r"\s*=", text.strip())]
        line = top[0] if top else 1
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    col = text.find(key) + 1 if key in text else 1
    message = f"setting '{key}' in {'[tool.stepc]' if in_pyproject else 'stepc.toml'} is {wanted}"
    shown = shown_path(path) if path is not None else "pyproject.toml"
    return Diagnostic("T103", message, shown, line, col, source_line=text)
