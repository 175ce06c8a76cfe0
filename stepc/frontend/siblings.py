"""Steps imported from the project's own modules (``from steps import clean``), read statically.

Each project module a flow imports from is read once, with the function dialect, in its own
file: its steps keep their own spans, code hashes and diagnostics (``steps.py:4:8: ...``), and
their function references name the module as ``stepc exec`` imports it (``steps:clean``). A
module being read when it is imported again (a cycle) offers no steps the second time round,
so the walk ends; Python itself decides at run time whether such a cycle imports.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from stepc.declarations import StepDecl
from stepc.diagnostics import Diagnostic, Severity, did_you_mean
from stepc.frontend.filebytes import decode_module, read_module_bytes
from stepc.frontend.imports import dotted_name, read_imports
from stepc.frontend.modulefinder import ModuleFile, NotFound, find_module
from stepc.frontend.source import SourceFile, read_source


@dataclass
class ModuleSteps:
    """What one project module offers its importers: its steps by the names it binds them to,
    the names of its steps that could not be read (reported in its own file already), and every
    name it binds at the top level (None when unknowable: a star import, a ``__getattr__``)."""

    name: str
    steps: dict[str, StepDecl] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    names: set[str] | None = None


@dataclass(frozen=True)
class Foreign:
    """A name imported from a module that is not a file of the project (a library, or a typo)."""

    module: str
    anchor: cst.CSTNode
    message: str


@dataclass
class ImportedSteps:
    """The project-module imports of one module, as its steps and ``pipeline(steps=...)`` see them."""

    bound: dict[str, StepDecl] = field(default_factory=dict)  # local name -> step (``from m import s``)
    modules: dict[str, ModuleSteps] = field(default_factory=dict)  # ``import m as s``: "s" -> m
    broken: set[str] = field(default_factory=set)  # local names of imported steps that failed to read
    plain: dict[str, str] = field(default_factory=dict)  # local name -> module, for names that are not steps
    foreign: dict[str, Foreign] = field(default_factory=dict)
    anchors: dict[str, cst.CSTNode] = field(default_factory=dict)  # local name -> where it is imported


@dataclass(frozen=True)
class Reference:
    """What a ``pipeline(steps=[...])`` element naming an import refers to: the name the steps
    list holds, the step when it is reached through its module (``s.clean``: no name of the
    module binds it), or the problem to report instead."""

    name: str = ""
    step: StepDecl | None = None
    problem: tuple[str, str, object] | None = None  # code, message, anchor


def imported_reference(imported: ImportedSteps, node: cst.BaseExpression, own: Container[str]) -> Reference | None:
    """The imported step ``node`` names; None when it names no import (a function of the module
    itself, ``own``, or nothing: the caller says so)."""
    if isinstance(node, cst.Name):
        name = node.value
        if name in imported.bound or name in imported.broken:
            return Reference(name)
        if name in own:
            return None
        if name in imported.foreign:
            foreign = imported.foreign[name]
            message = f"step '{name}' is imported from '{foreign.module}': {foreign.message}"
            return Reference(problem=("S150", message, foreign.anchor))
        if name in imported.plain:
            return Reference(
                problem=("S117", f"'{name}' (imported from {imported.plain[name]}) is not decorated with @step", node)
            )
        return None
    dotted = dotted_name(node) if isinstance(node, cst.Attribute) else None
    head, _, attr = (dotted or "").rpartition(".")
    module = imported.modules.get(head)
    if dotted is None or module is None:
        return None
    if attr in module.steps:
        return Reference(dotted, module.steps[attr])
    if attr in module.broken:
        return Reference(dotted)
    hint = did_you_mean(attr, module.steps)
    return Reference(problem=("S117", f"module '{module.name}' has no step '{attr}'{hint}", node))


class ProjectModules:
    """The project modules one flow file reaches, each read once; their diagnostics and parsed
    sources (for positions) are collected here."""

    def __init__(
        self, flow_path: Path, display_path: str, roots: tuple[Path, ...], relative: Callable[[Path], str]
    ) -> None:
        self.flow_path = flow_path.resolve()
        self.display_path = display_path
        self.roots = roots
        self.relative = relative  # Config.relative: a path to its project-relative form
        self.diagnostics: list[Diagnostic] = []
        self.sources: list[SourceFile] = []
        self._read: dict[Path, ModuleSteps] = {self.flow_path: ModuleSteps("")}  # the flow: a cycle back to it
        self._reading: set[Path] = set()

    def imported_steps(self, source: SourceFile, path: Path, package: str | None) -> ImportedSteps:
        """The steps ``source`` (the module at ``path``, in ``package``) imports from the project;
        problems at its import statements are added to ``self.diagnostics``."""
        found = ImportedSteps()
        for statement in _top_level_imports(source.module):
            if isinstance(statement, cst.ImportFrom):
                self._import_from(statement, source, path, package, found)
            else:
                self._import(statement, path, package, found)
        return found

    def _import_from(
        self, node: cst.ImportFrom, source: SourceFile, path: Path, package: str | None, found: ImportedSteps
    ) -> None:
        level = len(node.relative)
        module = dotted_name(node.module) if node.module is not None else ""
        if module is None:
            return
        if level == 0 and module.partition(".")[0] in _FLOW_LIBRARIES:
            return  # stepc's own API (and Metaflow's), even where a checkout of stepc is the project
        target = find_module(module, level, path, package, self.roots)
        if isinstance(target, NotFound):
            if target.certain:
                self.diagnostics.append(source.diagnostic("S150", target.message, node.module or node))
            elif not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    local = alias.evaluated_alias or _alias_text(alias)
                    found.foreign[local] = Foreign(module, alias.name, target.message)
            return
        offered = self.module(target)
        if isinstance(node.names, cst.ImportStar):
            # Its public steps, as Python binds them (a module's __all__ is not read).
            found.bound.update({name: step for name, step in offered.steps.items() if not name.startswith("_")})
            return
        for alias in node.names:
            imported = _alias_text(alias)
            local = alias.evaluated_alias or imported
            found.anchors[local] = alias.name
            submodule = (
                find_module(f"{target.name}.{imported}", 0, path, None, self._roots_of(target))
                if target.path.name == "__init__.py"
                else None
            )
            if imported in offered.steps:
                found.bound[local] = offered.steps[imported]
            elif imported in offered.broken:
                found.broken.add(local)
            elif isinstance(submodule, ModuleFile):
                found.modules[local] = self.module(submodule)  # ``from pkg import steps``
            elif offered.names is not None and imported not in offered.names:
                hint = did_you_mean(imported, offered.names)
                message = f"module '{target.name}' ({target.path.name}) has no name '{imported}'{hint}"
                self.diagnostics.append(source.diagnostic("S150", message, alias.name))
            else:
                found.plain[local] = target.name

    def _import(self, node: cst.Import, path: Path, package: str | None, found: ImportedSteps) -> None:
        for alias in node.names:
            name = _alias_text(alias)
            if name.partition(".")[0] in _FLOW_LIBRARIES:
                continue
            target = find_module(name, 0, path, package, self.roots)
            if isinstance(target, NotFound):
                continue  # a library's, most likely: only a step reference through it is checked
            local = alias.evaluated_alias if alias.asname is not None else name
            if local is not None:
                found.modules[local] = self.module(target)

    def _roots_of(self, target: ModuleFile) -> tuple[Path, ...]:
        """The folder ``target``'s dotted name starts from, for its submodules."""
        folder = target.path.parent
        for _ in range(target.name.count(".") + (target.path.name == "__init__.py")):
            folder = folder.parent
        return (folder,)

    def module(self, target: ModuleFile) -> ModuleSteps:
        """The steps of one project module, read the first time it is asked for."""
        if target.path in self._read:
            return self._read[target.path]
        if target.path in self._reading:
            return ModuleSteps(target.name)  # a cycle: the walk stops here
        self._reading.add(target.path)
        try:
            offered = self._read_module(target)
        finally:
            self._reading.discard(target.path)
        self._read[target.path] = offered
        return offered

    def _read_module(self, target: ModuleFile) -> ModuleSteps:
        from stepc.frontend.functions import FunctionDialect  # functions.py imports this module

        shown = self._display(target.path)
        read = read_source(shown, require_flow_import=True)
        if read.source is None:
            self.diagnostics.extend(read.diagnostics)
            return ModuleSteps(target.name, names=None if read.diagnostics else _names_of(target.path))
        source = read.source
        self.sources.append(source)
        imported = self.imported_steps(source, target.path, target.package)
        rel_path = self.relative(target.path)
        imports = read_imports(source.module)
        # Its pipeline() calls are its own check's: here they could only repeat those problems.
        dialect = FunctionDialect(
            source, imports, rel_path, target.name, imported=imported, roots=self.roots, read_pipelines=False
        )
        declared = dialect.read("")
        self.diagnostics.extend(dialect.diagnostics)
        steps = dict(imported.bound)  # a module may pass on steps it imports itself
        steps.update({step.function.rpartition(":")[2]: step for step in declared.steps if not step.reference})
        return ModuleSteps(target.name, steps, {*imported.broken, *declared.broken_steps}, bound_names(source.tree))

    def _display(self, path: Path) -> str:
        """``path`` as diagnostics show it: like the flow's (absolute, or from the working directory)."""
        if os.path.isabs(self.display_path):
            return str(path)
        try:
            return os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            return str(path)


_FLOW_LIBRARIES = ("stepc", "metaflow")


class SourcesReporter:
    """Places in any of several files: the flow's own diagnostics may point into the project
    modules it imports steps from (an imported step's input without a producer)."""

    def __init__(self, sources: list[SourceFile]) -> None:
        self.sources = sources

    def diagnostic(self, code: str, message: str, anchor: object, severity: Severity = "error") -> Diagnostic:
        owner = next((s for s in self.sources if s.owns(anchor)), self.sources[0])
        return owner.diagnostic(code, message, anchor, severity)


def _alias_text(alias: cst.ImportAlias) -> str:
    return dotted_name(alias.name) or ""


def _top_level_imports(module: cst.Module) -> Iterator[cst.ImportFrom | cst.Import]:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.ImportFrom, cst.Import)):
                    yield small


def bound_names(tree: ast.Module) -> set[str] | None:
    """Every name a module binds at its top level, at any depth of its blocks (``if``, ``try``,
    ``for``, ``with``); None when a star import or a module ``__getattr__`` makes that unknowable."""
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # its body binds names of its own scope
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.partition(".")[0])
            continue
        if isinstance(node, ast.Lambda | ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return None if "__getattr__" in names else names


def _names_of(path: Path) -> set[str] | None:
    """The top-level names of a module that is no flow (a helper), read with ``ast`` alone."""
    data = read_module_bytes(path)
    text = decode_module(data) if isinstance(data, bytes) else data
    if not isinstance(text, str):
        return None
    try:
        return bound_names(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
