"""Which names of a module stand for stepc's (or Metaflow's) API, found from its imports.

``from stepc import step as s`` makes ``s`` mean ``stepc.step``; ``import stepc as sc`` makes
``sc.step`` mean it. Only the module's top-level import statements are read (no metadata pass),
and a name rebound later at the top level (``def step``, ``step = ...``) loses its meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

FLOW_LIBRARIES = ("stepc", "metaflow")
# What ``from stepc import *`` (or metaflow's) brings in that the readers care about.
PUBLIC_API = ("step", "pipeline", "FlowSpec", "Parameter", "retry", "timeout", "resources", "catch", "engine")


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


@dataclass
class ImportTable:
    names: dict[str, str] = field(default_factory=dict)  # local name -> "stepc.step"
    modules: dict[str, str] = field(default_factory=dict)  # local alias -> "stepc"

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The qualified API name ``node`` refers to (``"stepc.step"``), if any."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if not rest:
            return self.names.get(head)
        module = self.modules.get(head)
        return f"{module}.{rest}" if module else None

    def refers_to(self, node: cst.BaseExpression, api: str) -> bool:
        """True when ``node`` names ``api`` (e.g. ``"step"``) of stepc or Metaflow."""
        qualified = self.qualify(node)
        return qualified is not None and qualified in {f"{lib}.{api}" for lib in FLOW_LIBRARIES}


def _alias_name(alias: cst.ImportAlias) -> str:
    name = dotted_name(alias.name)
    return name or ""


def read_imports(module: cst.Module) -> ImportTable:
    """The flow-library names bound at module level, in statement order.

    Imports inside top-level ``if``/``try``/``with`` blocks count (``try: from stepc import
    step`` with a fallback in ``except``); only top-level rebinding takes a meaning away, since
    a fallback branch does not run when stepc is there.
    """
    table = ImportTable()
    for statement, nested in _module_level(module.body, nested=False):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.ImportFrom):
                    _read_import_from(small, table, nested)
                elif isinstance(small, cst.Import):
                    _read_import(small, table, nested)
                elif not nested:
                    _forget_rebound(small, table)
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and not nested:
            _forget(statement.name.value, table)
    return table


def _module_level(body: Sequence[cst.BaseStatement], nested: bool) -> Iterator[tuple[cst.BaseStatement, bool]]:
    """Statements that run at module level, each with whether it sits inside a block."""
    for statement in body:
        if not isinstance(statement, (cst.If, cst.Try, cst.TryStar, cst.With)):
            yield statement, nested
            continue
        suites: list[cst.BaseSuite] = [statement.body]
        if isinstance(statement, cst.If):
            if isinstance(statement.orelse, cst.If):  # elif
                yield from _module_level([statement.orelse], True)
            elif statement.orelse is not None:
                suites.append(statement.orelse.body)
        elif isinstance(statement, (cst.Try, cst.TryStar)):
            suites += [handler.body for handler in statement.handlers]
            suites += [part.body for part in (statement.orelse, statement.finalbody) if part is not None]
        for suite in suites:
            if isinstance(suite, cst.IndentedBlock):
                yield from _module_level(suite.body, True)
            elif isinstance(suite, cst.SimpleStatementSuite):  # ``if x: import stepc`` on one line
                yield cst.SimpleStatementLine(body=suite.body), True


def _read_import_from(node: cst.ImportFrom, table: ImportTable, nested: bool) -> None:
    source = dotted_name(node.module) if node.module is not None and not node.relative else None
    if isinstance(node.names, cst.ImportStar):
        if source in FLOW_LIBRARIES:  # ``from stepc import *`` binds the public API
            table.names.update({api: f"{source}.{api}" for api in PUBLIC_API})
        return
    for alias in node.names:
        imported = _alias_name(alias)
        local = alias.evaluated_alias or imported
        if source is not None and source.partition(".")[0] in FLOW_LIBRARIES:
            # a submodule's name keeps its path (``metaflow.user_decorators....StepMutator``),
            # which no API lookup takes for the library's own name
            table.names[local] = f"{source}.{imported}"
        elif not nested:
            _forget(local, table)


def _read_import(node: cst.Import, table: ImportTable, nested: bool) -> None:
    for alias in node.names:
        imported = _alias_name(alias)
        if alias.asname is not None:
            local = alias.evaluated_alias or imported
            if imported in FLOW_LIBRARIES:
                table.modules[local] = imported
            elif not nested:
                _forget(local, table)
        else:
            head = imported.partition(".")[0]
            if head in FLOW_LIBRARIES:
                table.modules[head] = head
            elif not nested:
                _forget(head, table)


def _forget_rebound(small: cst.BaseSmallStatement, table: ImportTable) -> None:
    targets: list[cst.BaseExpression] = []
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        targets = [small.target]
    for target in targets:
        if isinstance(target, cst.Name):
            _forget(target.value, table)


def _forget(local: str, table: ImportTable) -> None:
    table.names.pop(local, None)
    table.modules.pop(local, None)
