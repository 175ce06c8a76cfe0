"""Typed pipeline parameter values: parsing ``-p name=value`` strings and checking JSON values.

Resolution order is IR default < value given at run time. Every problem is a :class:`ParamError`
with one readable line, so that the CLI can print it and exit with a usage error before anything
runs; ``stepc run``, ``stepc exec`` and (later) ``stepc submit`` share these rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from stepc.diagnostics import did_you_mean
from stepc.ir import Parameter, ParamType, thaw

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NOT_JSON = object()
# The command-line text of "no value": engines keep every parameter as text and hand back a
# default of None as JSON's `null` (Argo, Valohai). Only a parameter whose default is None
# reads it so; `--params '{"name": "null"}'` still gives such a str parameter the text "null".
NULL_TEXT = "null"


class ParamError(ValueError):
    """A parameter value that cannot be used; the message is one line meant for the user."""


class DefaultError(ParamError):
    """A computed default that could not be computed: an error in the flow, not in the command."""


def split_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``. A name given twice is an error: which
    value was meant cannot be told (a typo in a long command line, most often)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(f"bad parameter {pair!r}: expected name=value")
        if name in out:
            raise ParamError(f"parameter '{name}' is given twice (-p {name}={out[name]} and -p {pair})")
        out[name] = value
    return out


def parse_text(param: Parameter, text: str) -> Any:
    """Turn the command-line text of one parameter into a value of its declared type."""
    kind = param.type
    if text == NULL_TEXT and nullable(param):
        return None
    if kind == "str":
        return text
    if kind in ("int", "float", "bool"):
        return _parse_scalar(param.name, kind, text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = _NOT_JSON
    if kind == "dict":
        if value is _NOT_JSON:
            raise ParamError(f"parameter '{param.name}' expects a dict as JSON (e.g. '{{\"k\": 1}}'), got {text!r}")
        return check_value(param, value)
    if isinstance(value, list):
        return check_value(param, value)
    if param.separator is not None:  # Metaflow's separator=: split exactly there
        return text.split(param.separator) if text else []
    # Comma-separated lists are the friendly form on a command line: -p lrs=0.1,0.01
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if param.item_type in ("int", "float", "bool"):
        return [_parse_scalar(param.name, param.item_type, p) for p in parts]
    return parts


def nullable(param: Parameter) -> bool:
    """Whether None is a value of ``param``: its default is None."""
    return not param.required and param.default is None


def _parse_scalar(name: str, kind: ParamType, text: str) -> Any:
    stripped = text.strip()
    if kind == "bool":
        low = stripped.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ParamError(f"parameter '{name}' expects a bool (true/false), got {text!r}")
    try:
        return int(stripped) if kind == "int" else float(stripped)
    except ValueError:
        article = "an" if kind == "int" else "a"
        raise ParamError(f"parameter '{name}' expects {article} {kind}, got {text!r}") from None


def _matches(kind: ParamType, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list | tuple)
    return isinstance(value, dict)


def check_value(param: Parameter, value: Any) -> Any:
    """Check a Python/JSON value against the parameter's type; ints widen to float. None is a
    value of a parameter whose default is None (engines send every parameter back)."""
    if value is None and nullable(param):
        return None
    if not _matches(param.type, value):
        raise ParamError(f"parameter '{param.name}' expects {param.type}, got {type(value).__name__} {value!r}")
    if param.type == "float":
        return float(value)
    if param.type in ("list", "dict") and param.item_type is not None:
        items = list(value) if param.type == "list" else list(value.values())
        for item in items:
            if not _matches(param.item_type, item):
                raise ParamError(
                    f"parameter '{param.name}' expects {param.type} of {param.item_type}, got an item {item!r}"
                )
    return thaw(value)


def resolve(
    params: Iterable[Parameter],
    given: Mapping[str, Any] | None = None,
    texts: Mapping[str, str] | None = None,
    needed: Collection[str] | None = None,
    evaluate: Callable[[Parameter], Any] | None = None,
) -> dict[str, Any]:
    """All parameter values of a pipeline: defaults, overridden by ``given`` (Python/JSON values)
    and then by ``texts`` (command-line strings). Unknown names and missing required parameters
    are errors; with ``needed`` (``stepc exec`` of some steps) only those names must be there,
    and a missing required one that is not needed is left out.

    ``evaluate`` computes a parameter's computed default (``Parameter.default_expr``) where no
    value, or None (an engine's "no value"), is given; without it such a value stays None
    (checking the other values before the flow is imported)."""
    declared = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for name in [*(given or {}), *(texts or {})]:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            hint = did_you_mean(name, declared)
            raise ParamError(f"unknown parameter '{name}'{hint}; the pipeline's parameters: {known}")
    for name, param in declared.items():
        if texts and name in texts:
            values[name] = parse_text(param, texts[name])
        elif given and name in given:
            values[name] = check_value(param, given[name])
        elif param.required and needed is not None and name not in needed:
            continue
        elif param.required:
            raise ParamError(f"missing required parameter '{name}' ({param.type}): pass -p {name}=VALUE")
        else:
            values[name] = thaw(param.default)
        unset = param.default_expr is not None and values[name] is None
        if evaluate is not None and unset and (needed is None or name in needed):
            values[name] = computed_value(param, evaluate(param))
    return values


def computed_value(param: Parameter, value: Any) -> Any:
    """The value a computed default gave, as the parameter's type: text is read as ``-p`` text
    is (JSON for a JSONType, split at a separator, numbers parsed), as Metaflow's command line
    converts a default."""
    if isinstance(value, str) and (param.type != "str" or param.separator is not None):
        return parse_text(param, value)
    try:
        return check_value(param, value)
    except ParamError as exc:
        what = f"the default {param.default_expr} of parameter '{param.name}'"
        raise ParamError(f"{what} gave {value!r}: {exc}") from None


def read_included(params: Iterable[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each file parameter's path (Metaflow's ``IncludeFile``) replaced by the
    file's content: text in the parameter's encoding, or bytes. A relative path is taken from
    the current directory, as Metaflow does; a file that cannot be read is a :class:`ParamError`."""
    read = dict(values)
    for param in params:
        path = read.get(param.name)
        if param.file is None or path is None:
            continue
        try:
            with open(str(path), "rb") as f:
                data = f.read()
        except OSError as exc:
            why = exc.strerror or exc
            raise ParamError(f"parameter '{param.name}' names the file {path!r}, which cannot be read: {why}") from None
        if not param.file.is_text:
            read[param.name] = data
            continue
        try:
            read[param.name] = data.decode(param.file.encoding)
        except UnicodeDecodeError as exc:
            why = f"not {param.file.encoding} text ({exc.reason} at byte {exc.start})"
            raise ParamError(f"parameter '{param.name}': the file {path!r} is {why}") from None
    return read
