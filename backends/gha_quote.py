"""Quoting filters for GitHub workflows: every value a template prints passes one of them.

GitHub evaluates ``${{ }}`` in most fields of a workflow, so user text needs more than YAML
quoting: in evaluated fields each ``${{`` is rewritten to an expression that yields the same
characters, in display fields it is broken up, and JSON for ``env:`` never contains ``$``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .quoting import Quoted, yaml_scalar


def gh_value(value: Any) -> Quoted:
    """A YAML string for a field GitHub evaluates (``env:``, ``with:``): every ``${{`` is
    written as ``${{ '$' }}{{``, which GitHub evaluates back to the same text, so the value
    arrives exactly as written and no expression inside it ever runs."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return yaml_scalar(text.replace("${{", "${{ '$' }}{{"))


def gh_text(value: Any) -> Quoted:
    """Display text (names, descriptions): one line, and ``${{`` cannot open an expression."""
    text = " ".join(str(value).split())
    return yaml_scalar(text.replace("${{", "$ {{"))


def gh_json(value: Any) -> Quoted:
    """JSON for an ``env:`` value: ``$`` escaped as ``\\u0024`` so it never reads as ``${{``."""
    return yaml_scalar(json.dumps(value, sort_keys=True, ensure_ascii=False).replace("$", "\\u0024"))


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def yaml_key(value: str) -> Quoted:
    """A mapping key: plain when it is an identifier-like id (job ids, inputs), else quoted."""
    return (
        Quoted(value) if _PLAIN_KEY.match(value) and value not in ("on", "y", "n", "yes", "no") else yaml_scalar(value)
    )


def yaml_block(text: str, indent: int) -> Quoted:
    """A constant script as a YAML literal block, indented to sit under its key."""
    pad = " " * indent
    lines = [pad + line if line else "" for line in text.rstrip("\n").split("\n")]
    return Quoted("|\n" + "\n".join(lines))


def no_expression(value: Any) -> str | None:
    """A setting's rule: no ``${{`` in a value written where GitHub evaluates expressions
    (``runs-on``, ``environment``), so that no text of the user's runs as one."""
    texts = [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []
    found = next((t for t in texts if "${{" in t), None)
    return None if found is None else f"a text without `${{{{` (GitHub would evaluate it), not {found!r}"
