"""Quoting for generated files: a template prints only :class:`Quoted` text, which one of these
filters made from a value (YAML scalars and strings, Python literals, comment text)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any


class Quoted(str):
    """Text already quoted for its target: the only kind of string a template may print."""


# YAML forbids most C0/C1 controls and a few others even inside double quotes; JSON leaves
# some of them raw, so they are escaped by hand.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def yaml_scalar(value: Any) -> Quoted:
    """A YAML flow value (double-quoted string, number, bool, null, or JSON-style list/map)."""
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    else:
        text = json.dumps(value, ensure_ascii=False)
    return Quoted(_YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def yaml_string(value: Any) -> Quoted:
    """Always a YAML string: Argo parameters and env values are strings even when numeric."""
    return yaml_scalar(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def python_literal(value: Any) -> Quoted:
    """A Python literal for plain data; anything else is a bug in the caller."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:  # NaN has no literal
            raise ValueError("NaN cannot be written as a literal")
        return Quoted(repr(value))
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(v) for v in value)
        return Quoted(f"[{inner}]")
    if isinstance(value, dict):
        inner = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return Quoted(f"{{{inner}}}")
    raise TypeError(f"{type(value).__name__} is not plain data")


def comment_text(value: str) -> Quoted:
    """Text for inside a one-line comment: line breaks and controls cannot end the comment."""
    return Quoted(json.dumps(value, ensure_ascii=False)[1:-1])


BASE_FILTERS: dict[str, Callable[..., Quoted]] = {
    "yaml": yaml_scalar,
    "yaml_str": yaml_string,
    "py": python_literal,
    "comment": comment_text,
}
