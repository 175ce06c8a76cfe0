"""The configs of a flow class: Metaflow's ``Config`` attributes, read when the flow is read.

``cfg = Config("cfg", default="config.json")`` reads the file (JSON), ``default_value=`` gives
the value itself (a dict, or JSON text); ``plain=True`` keeps the value as it is (the file's
text). Metaflow fixes a config when it deploys a flow; stepc does when it reads one (compile,
run, exec), so the file must be in the project, and in the image of an engine's task. A relative
path is read from the flow's folder. ``parser=`` and a function as default run code at deploy
time: stepc reports them at their place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst
import libcst.helpers

from stepc.frontend.literals import NotStatic, literal_value

if TYPE_CHECKING:
    from stepc.frontend.flowclass import ClassDialect

CONFIG_ARGUMENTS = ("name", "default", "default_value", "help", "required", "parser", "plain", "show_default")
_PATH_FUNCTIONS: dict[str, Callable[..., str]] = {
    "os.path.join": os.path.join, "os.path.dirname": os.path.dirname, "os.path.abspath": os.path.abspath,
    "os.path.realpath": os.path.realpath, "os.path.normpath": os.path.normpath,
}  # fmt: skip


class BadConfig(NotStatic):
    """The config's value is readable but wrong: a missing file, not JSON, not an object."""


@dataclass(frozen=True)
class ConfigDecl:
    """One ``Config`` attribute and its value (JSON data, or the text of a plain config)."""

    name: str
    attribute: str
    value: Any
    plain: bool
    anchor: cst.CSTNode


def is_config(reader: ClassDialect, small: cst.BaseSmallStatement) -> bool:
    return (
        isinstance(small, cst.Assign)
        and isinstance(small.value, cst.Call)
        and reader.imports.refers_to(small.value.func, "Config")
    )


def read_config(reader: ClassDialect, small: cst.Assign) -> ConfigDecl | None:
    """The config a class-body statement declares, or None (a problem is reported)."""
    call = small.value
    assert isinstance(call, cst.Call)
    target = small.targets[0].target
    if len(small.targets) != 1 or not isinstance(target, cst.Name):
        reader.report("S137", "assign a Config to one plain class attribute, e.g. cfg = Config('cfg')", small)
        return None
    values = reader.read_arguments(
        call, CONFIG_ARGUMENTS, "Config()", positional=("name", "default"), unread=("default", "default_value")
    )
    name, anchor = values.get("name", (None, call))
    if not isinstance(name, str) or not name:
        reader.report("S137", "the name of a Config is a non-empty string: Config('cfg')", anchor)
        return None
    plain = values.get("plain", (False, None))[0]
    if "parser" in values:
        message = (
            f"parser= of Config '{name}' runs code when the flow is deployed: stepc reads configs as JSON "
            "when it reads the flow; convert the file to JSON, or use plain=True and parse it in the step"
        )
        reader.report("S102", message, values["parser"][1])
        return None
    if "default" in values and "default_value" in values:
        reader.report("S122", f"Config '{name}': give default= (a file) or default_value=, not both", call)
        return None
    try:
        value = _value(reader, values, name, bool(plain))
    except NotStatic as exc:
        reader.report("S122" if isinstance(exc, BadConfig) else "S102", exc.message, exc.node)
        return None
    if value is None and values.get("required", (False, None))[0]:
        message = f"Config '{name}' is required: give default= or default_value= (stepc reads configs with the flow)"
        reader.report("S122", message, call)
        return None
    if not plain and value is not None and not isinstance(value, dict):
        message = f"the value of Config '{name}' is a {type(value).__name__}, not a JSON object: use plain=True"
        reader.report("S122", message, values.get("default_value", values.get("default", (None, call)))[1])
        return None
    return ConfigDecl(name, target.value, value, bool(plain), anchor)


def _value(reader: ClassDialect, values: dict[str, tuple[Any, cst.CSTNode]], name: str, plain: bool) -> Any:
    if "default" in values:
        node = values["default"][1]
        assert isinstance(node, cst.BaseExpression), "an argument's value is an expression"
        _refuse_function(reader, node, name)
        path = Path(config_path(reader, node))
        if not path.is_absolute():
            path = reader.folder / path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            message = f"the file of Config '{name}' cannot be read: {_shown(reader, path)}: {reason}"
            raise BadConfig(node, message) from None
        return text if plain else _json(text, node, f"the file of Config '{name}' ({_shown(reader, path)})")
    if "default_value" in values:
        node = values["default_value"][1]
        assert isinstance(node, cst.BaseExpression), "an argument's value is an expression"
        _refuse_function(reader, node, name)
        try:
            value = literal_value(node, reader.module_constants)
        except NotStatic as exc:
            raise NotStatic(exc.node, f"default_value of Config '{name}': {exc.message}") from None
        if isinstance(value, str) and not plain:
            return _json(value, node, f"default_value of Config '{name}'")
        return value if plain else json.loads(json.dumps(value))  # tuples become lists, as Metaflow's JSON
    return None


def config_path(reader: ClassDialect, node: cst.BaseExpression) -> str:
    """A path written as Python: a string, ``__file__``, module constants and ``os.path``'s
    joining functions (``os.path.join(os.path.dirname(__file__), "config.json")``)."""
    if isinstance(node, cst.Name) and node.value == "__file__":
        return str(reader.folder / Path(reader.source.display_path).name)
    if isinstance(node, cst.Name) and (bound := reader.module_constants.definition(node.value)) is not None:
        return config_path(reader, bound)
    if isinstance(node, cst.Call) and not any(a.keyword or a.star for a in node.args):
        function = _PATH_FUNCTIONS.get(_os_name(reader.source.module, node.func))
        if function is not None:
            parts = [config_path(reader, a.value) for a in node.args]
            return str(function(*parts))
    value = literal_value(node, reader.module_constants)
    if not isinstance(value, str):
        raise NotStatic(node, "the default of a Config is the path of a JSON file (a string)")
    return value


def _os_name(module: cst.Module, node: cst.BaseExpression) -> str:
    """``os.path.join`` for a name meaning it through the module's top-level imports of ``os``
    (``import os``, ``import os.path``, ``from os import path``, ``from os.path import join``)."""
    dotted = cst.helpers.get_full_name_for_node(node) or ""
    head, _, rest = dotted.partition(".")
    for statement in module.body:
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Import):
                for alias in small.names:
                    name = cst.helpers.get_full_name_for_node(alias.name) or ""
                    if alias.asname is None and name.partition(".")[0] == head == "os":
                        return dotted
                    if alias.evaluated_alias == head and name in ("os", "os.path"):
                        return f"{name}.{rest}" if rest else name
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                origin = cst.helpers.get_full_name_for_node(small.module) if small.module else None
                for alias in small.names:
                    local = alias.evaluated_alias or cst.helpers.get_full_name_for_node(alias.name)
                    if origin in ("os", "os.path") and local == head:
                        full = f"{origin}.{cst.helpers.get_full_name_for_node(alias.name)}"
                        return f"{full}.{rest}" if rest else full
    return ""


def _refuse_function(reader: ClassDialect, node: cst.CSTNode, name: str) -> None:
    if isinstance(node, cst.Lambda) or reader.is_function(node):
        message = (
            f"the default of Config '{name}' is a function (Metaflow calls it when the flow is deployed): stepc "
            "reads configs statically; give a file or a value"
        )
        raise NotStatic(node, message)


def _json(text: str, node: cst.CSTNode, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadConfig(node, f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def _shown(reader: ClassDialect, path: Path) -> str:
    """The path as the user wrote it relative to the flow: no absolute paths in messages."""
    try:
        return str(path.relative_to(reader.folder))
    except ValueError:
        return str(path)
