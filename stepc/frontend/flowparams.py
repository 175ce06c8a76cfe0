"""The parameters of a flow class: ``Parameter`` and ``IncludeFile`` attributes, as Metaflow
reads them.

* The parameter's name (the first argument) is what ``-p`` and the engines use; the attribute
  is what steps read (``animal = Parameter("creature")``: ``-p creature=cat``, ``self.animal``).
* ``type=JSONType``: a string default is JSON, parsed here; the value's type follows it.
* ``separator=","`` (str parameters only, as in Metaflow): the value is a list of strings, a
  default split at the separator.
* ``IncludeFile("data", default="data.csv", is_text=, encoding=)``: the value is a path; the
  steps see the file's content (IR ``Parameter.file``).
* A deploy-time default (a function Metaflow calls when the flow is deployed) is diagnosed at
  its place: stepc reads parameters statically.
* A computed default (``default=script_path("movies.csv")``, which Metaflow evaluates when it
  imports the flow) is kept as source (IR ``Parameter.default_expr``) and evaluated in the
  flow module when the run starts; a Parameter with one gives its ``type=``, as its value's
  type cannot be read statically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libcst as cst

from stepc.declarations import ParamDecl, conforms_param, normalise_value
from stepc.frontend.literals import NotStatic, literal_value
from stepc.ir import IncludedFile, ParamType, value_type

if TYPE_CHECKING:
    from stepc.frontend.flowclass import ClassDialect

_PARAM_TYPES: dict[str, ParamType] = {"int": "int", "float": "float", "str": "str", "bool": "bool", "JSONType": "dict"}
PARAMETER_ARGUMENTS = ("name", "default", "type", "help", "required", "show_default", "separator")
INCLUDE_FILE_ARGUMENTS = ("name", "default", "is_text", "encoding", "help", "required", "show_default")
PARAMETER_KINDS = ("Parameter", "IncludeFile")
# Names Metaflow's command line keeps for itself: a Metaflow flow declaring one does not run there.
METAFLOW_RESERVED = frozenset(
    n.replace("-", sep)
    for n in (
        "params", "with", "tag", "namespace", "obj", "tags", "decospecs", "run-id-file", "max-num-splits",
        "max-workers", "max-log-size", "user-namespace", "run-id", "task-id", "runner-attribute-file",
    )
    for sep in "-_"
)  # fmt: skip


@dataclass(frozen=True)
class ComputedDefault:
    """A default that is not a literal: its Python source, evaluated when the run starts."""

    source: str


def read_parameter(reader: ClassDialect, small: cst.BaseSmallStatement) -> ParamDecl | None:
    """The parameter a class-body statement declares, or None (a problem is reported)."""
    if not (isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)):
        return None
    call = small.value
    kind = next((k for k in PARAMETER_KINDS if reader.imports.refers_to(call.func, k)), None)
    if kind is None:
        return None
    target = small.targets[0].target
    if len(small.targets) != 1 or not isinstance(target, cst.Name):
        reader.report("S137", f"assign a {kind} to one plain class attribute, e.g. alpha = {kind}('alpha')", small)
        return None
    attribute = target.value
    known = INCLUDE_FILE_ARGUMENTS if kind == "IncludeFile" else PARAMETER_ARGUMENTS
    values = reader.read_arguments(call, known, f"{kind}()", positional=("name",), unread=("type", "default"))
    name: Any = attribute
    anchor: cst.CSTNode = target
    if "name" in values:
        name, anchor = values["name"]
        if not isinstance(name, str) or not name:
            reader.report("S137", f"the name of a {kind} is a non-empty string", anchor)
            return None
    if name in METAFLOW_RESERVED and (reader.imports.qualify(call.func) or "").startswith("metaflow."):
        message = f"'{name}' is a reserved word of Metaflow's command line: name the parameter otherwise"
        reader.report("S137", message, anchor)
        return None
    default, default_node, has_default = _default(reader, values, name)
    if default_node is not None and not has_default:
        return None  # reported
    help_text = values.get("help", ("", None))[0]
    required = bool(values.get("required", (False, None))[0])
    description = help_text if isinstance(help_text, str) else ""
    if kind == "IncludeFile":
        return _include_file(reader, values, name, attribute, anchor, default, default_node, required, description)
    type_ = _declared_type(reader, values, name)
    if type_ is None:
        return None
    if isinstance(default, ComputedDefault):
        return _computed(reader, values, name, attribute, anchor, type_, default, required, description)
    json_type = type_ == "json"
    if json_type and isinstance(default, str):
        try:
            default = json.loads(default)
        except json.JSONDecodeError as exc:
            reader.report("S122", f"default of JSONType parameter '{name}' is not JSON: {exc.msg}", default_node)
            return None
    kind_of: ParamType
    if json_type or type_ == "infer":
        kind_of = value_type(default) if default is not None else "dict" if json_type else "str"
    else:
        kind_of = type_  # type: ignore[assignment]  # one of _PARAM_TYPES' values
    item_type: ParamType | None = None
    separator = values.get("separator", (None, None))[0]
    if separator is not None:
        if _bad_separator(reader, values, name, kind_of):
            return None
        kind_of, item_type = "list", "str"
        if isinstance(default, str):
            default = default.split(separator) if default else []  # as Metaflow splits: no stripping
    if default is not None and not conforms_param(default, kind_of, item_type):
        article = "an" if kind_of[0] in "aeiou" else "a"
        reader.report("S122", f"default {default!r} of parameter '{name}' is not {article} {kind_of}", default_node)
        return None
    return ParamDecl(
        name=name,
        type=kind_of,
        default=normalise_value(default, kind_of, item_type),
        required=required,
        anchor=anchor,
        item_type=item_type,
        description=description,
        attribute=attribute,
        separator=separator,
    )


def _default(reader: ClassDialect, values: dict[str, tuple[Any, cst.CSTNode]], name: str) -> tuple[Any, Any, bool]:
    """(value, node, read): ``read`` is False when the default is there but not static."""
    if "default" not in values:
        return None, None, False
    node = values["default"][1]
    if isinstance(node, cst.Lambda) or reader.is_function(node):
        message = (
            f"the default of parameter '{name}' is a function (a deploy-time default, which Metaflow calls when "
            "the flow is deployed): stepc reads parameters statically, so give a literal default"
        )
        reader.report("S102", message, node)
        return None, node, False
    assert isinstance(node, cst.BaseExpression), "an argument's value is an expression"
    try:
        return literal_value(node, reader.constants), node, True
    except NotStatic:
        return ComputedDefault(reader.source.code(node)), node, True


def _computed(
    reader: ClassDialect,
    values: dict[str, tuple[Any, cst.CSTNode]],
    name: str,
    attribute: str,
    anchor: cst.CSTNode,
    type_: str,
    default: ComputedDefault,
    required: bool,
    description: str,
) -> ParamDecl | None:
    """A Parameter whose default is computed: its type is the one it declares."""
    if type_ == "infer":
        message = (
            f"the default of parameter '{name}' is computed when the flow is imported, so its type cannot be "
            "read statically: give type= (int, float, str, bool or JSONType)"
        )
        reader.report("S121", message, values["default"][1])
        return None
    separator = values.get("separator", (None, None))[0]
    if separator is not None and _bad_separator(reader, values, name, type_):
        return None
    kind_of: ParamType = "dict" if type_ == "json" else type_  # type: ignore[assignment]  # one of _PARAM_TYPES'
    return ParamDecl(
        name=name,
        type="list" if separator is not None else kind_of,
        default=None,
        required=required,
        anchor=anchor,
        item_type="str" if separator is not None else None,
        description=description,
        attribute=attribute,
        separator=separator,
        default_expr=default.source,
    )


def _bad_separator(reader: ClassDialect, values: dict[str, tuple[Any, cst.CSTNode]], name: str, kind: str) -> bool:
    """Whether ``separator=`` is wrong (reported): a non-empty string, on a str parameter only."""
    separator = values["separator"][0]
    if isinstance(separator, str) and separator and kind == "str":
        return False
    message = f"separator= of parameter '{name}': a non-empty string, on a str parameter only (as in Metaflow)"
    reader.report("S122", message, values["separator"][1])
    return True


def _declared_type(reader: ClassDialect, values: dict[str, tuple[Any, cst.CSTNode]], name: str) -> str | None:
    """``int`` ... ``dict`` as written, ``json`` for JSONType, ``infer`` when no type is given."""
    if "type" not in values:
        return "infer"
    node = values["type"][1]
    written = node.value if isinstance(node, cst.Name) else None
    if isinstance(node, cst.Attribute):
        written = reader.imports.qualify(node)
    short = (written or "").rpartition(".")[2]
    if short == "JSONType":
        return "json"
    if short in _PARAM_TYPES:
        return _PARAM_TYPES[short]
    reader.report("S121", f"type of parameter '{name}' must be int, float, str, bool or JSONType", node)
    return None


def _include_file(
    reader: ClassDialect,
    values: dict[str, tuple[Any, cst.CSTNode]],
    name: str,
    attribute: str,
    anchor: cst.CSTNode,
    default: Any,
    default_node: Any,
    required: bool,
    description: str,
) -> ParamDecl | None:
    computed = default.source if isinstance(default, ComputedDefault) else None
    if computed is not None:
        default = None
    if default is not None and not isinstance(default, str):
        reader.report("S122", f"default of IncludeFile '{name}' is a path (a string)", default_node)
        return None
    is_text = values.get("is_text", (True, None))[0]
    encoding = values.get("encoding", ("utf-8", None))[0]
    if not isinstance(is_text, bool) or not isinstance(encoding, str):
        where = values["is_text" if not isinstance(is_text, bool) else "encoding"][1]
        reader.report("S122", f"IncludeFile '{name}': is_text is True or False, encoding a codec name", where)
        return None
    try:
        "".encode(encoding)
    except LookupError:
        reader.report("S122", f"IncludeFile '{name}': unknown encoding {encoding!r}", values["encoding"][1])
        return None
    return ParamDecl(
        name=name,
        type="str",
        default=default,
        required=required,
        anchor=anchor,
        description=description,
        attribute=attribute,
        file=IncludedFile(is_text, encoding),
        default_expr=computed,
    )
