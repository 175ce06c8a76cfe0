"""Uses of ``metaflow.current`` that stepc does not provide, found before anything runs.

Under stepc, ``metaflow.current`` has Metaflow's task fields
(:data:`stepc.runtime.metaflow_current.FIELDS`); reading another (``current.graph``,
``current.trigger``, a typo) would fail only when the step runs, so it is warning W204 at its
place. The ``ast`` tree is walked: it is parsed anyway and costs no metadata pass.
"""

from __future__ import annotations

import ast

from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.frontend.imports import ImportTable
from stepc.frontend.source import SourceFile
from stepc.runtime.metaflow_current import FIELDS


def unknown_current_fields(source: SourceFile, imports: ImportTable) -> list[Diagnostic]:
    """W204 at each ``current.<name>`` (``metaflow.current.<name>``) that is not a field."""
    local = {name for name, api in imports.names.items() if api == "metaflow.current"}
    modules = {alias for alias, module in imports.modules.items() if module == "metaflow"}
    if not local and not modules:
        return []
    found = []
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.Attribute) or node.attr in FIELDS or node.attr.startswith("_"):
            continue
        base = node.value
        is_current = isinstance(base, ast.Name) and base.id in local
        is_current = is_current or (
            isinstance(base, ast.Attribute)
            and base.attr == "current"
            and isinstance(base.value, ast.Name)
            and base.value.id in modules
        )
        if not is_current or node.end_lineno is None or node.end_col_offset is None:
            continue
        line = node.end_lineno
        end = source.char_column(line, node.end_col_offset)
        start = end - len(node.attr)
        message = (
            f"metaflow.current.{node.attr} is not provided under stepc: reading it fails when the step runs"
            f"{did_you_mean(node.attr, FIELDS)}"
        )
        found.append(source.diagnostic_at("W204", message, line, start, end, "warning"))
    return sorted(found, key=lambda d: (d.line, d.col))
