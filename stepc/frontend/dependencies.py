"""The code a step depends on, for a cache that cannot be stale.

A step's ``code_hash`` covers its own function and every module-level name that function reads,
transitively: constants, helper functions and classes of the flow module, and what it imports
from the project's own modules (files beside the flow, which is where ``stepc exec`` finds
them too). Each definition is hashed like the step itself (``fingerprint.code_hash``: formatting
does not count), so changing ``FACTOR = 2`` to ``3`` in a helper's module invalidates every step
that reaches it, and nothing else. Third-party and standard-library modules are not followed:
their version is the environment's, not the flow's.

All of it is read statically, with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .filebytes import Unreadable, decode_module, read_module_bytes
from .fingerprint import code_hash, node_hash

Definition = ast.stmt


@dataclass
class ModuleIndex:
    """One module's top-level names: the statements that define each, and what each imported
    name refers to (module, attribute or None for the module itself)."""

    path: Path
    definitions: dict[str, list[Definition]] = field(default_factory=dict)
    imports: dict[str, tuple[str, int, str | None]] = field(default_factory=dict)  # name -> (module, level, attr)

    @classmethod
    def of(cls, tree: ast.Module, path: Path) -> ModuleIndex:
        index = cls(path)
        todo: list[ast.stmt] = list(tree.body)
        while todo:
            stmt = todo.pop(0)
            if isinstance(stmt, ast.If | ast.Try):  # `if TYPE_CHECKING:`, `try: import x`
                todo += [*stmt.body, *stmt.orelse, *getattr(stmt, "finalbody", [])]
                for handler in getattr(stmt, "handlers", []):
                    todo += handler.body
                continue
            for name in _defined_names(stmt):
                index.definitions.setdefault(name, []).append(stmt)
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        index.imports[alias.asname] = (alias.name, 0, None)
                    else:
                        top = alias.name.split(".")[0]
                        index.imports[top] = (top, 0, None)
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if alias.name != "*":
                        index.imports[alias.asname or alias.name] = (stmt.module or "", stmt.level, alias.name)
        return index


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    names = []
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            targets += target.elts
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
    return names


def names_read(node: ast.AST) -> set[str]:
    """Every bare name ``node`` reads (a function's decorators excluded: they are its settings)."""
    found: set[str] = set()
    todo: list[ast.AST] = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, ast.Name):
            found.add(current.id)
            continue
        for name, value in ast.iter_fields(current):
            if name == "decorator_list" and current is node:
                continue
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                todo += [v for v in value if isinstance(v, ast.AST)]
    return found


class DependencyHasher:
    """Transitive code hashes of the functions of one flow file; the project modules it
    imports are read once each."""

    def __init__(self, tree: ast.Module, path: str | Path, roots: tuple[Path, ...] | None = None) -> None:
        # Where the flow's own absolute imports are found (see stepc.projectpaths.search_roots):
        # by default the module's folder.
        self.roots = tuple(r.resolve() for r in roots) if roots else (Path(path).resolve().parent,)
        self.flow = ModuleIndex.of(tree, Path(path).resolve())
        self._modules: dict[Path, ModuleIndex | None] = {}
        self._hashes: dict[int, str] = {}
        self._reads: dict[int, set[str]] = {}

    def code_hash(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        """The step's own hash combined with the hash of every definition it reaches."""
        parts: list[str] = [code_hash(node)]
        seen: set[tuple[Path, str]] = set()
        todo: list[tuple[ModuleIndex, str]] = [(self.flow, name) for name in self._names(node)]
        while todo:
            index, name = todo.pop()
            if (index.path, name) in seen:
                continue
            seen.add((index.path, name))
            for stmt in index.definitions.get(name, ()):
                if stmt is node:
                    continue  # a recursive step reads its own name
                parts.append(f"{index.path.name}:{name}={self._hash(stmt)}")
                todo += [(index, read) for read in self._names(stmt)]
            if name in index.imports and name not in index.definitions:
                module, level, attr = index.imports[name]
                target = self._module(index, module, level)
                if target is None or (attr is not None and attr not in target.definitions):
                    # `from pkg import submodule`: the module of that name, if there is one
                    sub = self._module(index, f"{module}.{attr}" if module else str(attr), level) if attr else None
                    target, attr = (sub, None) if sub is not None else (target, attr)
                if target is None:
                    continue  # not a project module: the environment's
                if attr is None:  # the whole module: every name it defines
                    todo += [(target, defined) for defined in target.definitions]
                else:
                    todo.append((target, attr))
        parts.sort()
        return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def _hash(self, node: ast.AST) -> str:
        key = id(node)
        if key not in self._hashes:
            self._hashes[key] = node_hash(node)
        return self._hashes[key]

    def _names(self, node: ast.AST) -> set[str]:
        key = id(node)
        if key not in self._reads:
            self._reads[key] = names_read(node)
        return self._reads[key]

    def _module(self, importer: ModuleIndex, module: str, level: int) -> ModuleIndex | None:
        """The project module ``module`` as ``importer`` names it, read and indexed, or None."""
        bases: tuple[Path, ...] = self.roots
        if level > 0:
            base = importer.path.parent
            for _ in range(level - 1):
                base = base.parent
            bases = (base,)
        relative = Path(*module.split(".")) if module else Path()
        for base in bases:
            for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
                if module == "" and candidate.name != "__init__.py":
                    continue
                resolved = candidate.resolve()
                if not resolved.is_file() or not any(resolved.is_relative_to(root) for root in self.roots):
                    continue
                if resolved not in self._modules:
                    self._modules[resolved] = _read_module(resolved)
                return self._modules[resolved]
        return None


def _read_module(path: Path) -> ModuleIndex | None:
    data = read_module_bytes(path)
    text = decode_module(data) if isinstance(data, bytes) else data
    if isinstance(text, Unreadable):
        return None  # its name reads as the environment's; importing it will say why
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # unreadable: its name reads as the environment's; importing it will say why
    return ModuleIndex.of(tree, path)
