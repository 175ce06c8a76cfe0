"""The house rules, enforced: which room may import which, read statically from the source (ast),
and what a real engine task (``python -m stepc exec``) loads.

Rooms: stepc/frontend (source in, IR out: the only one that reads libcst), stepc/runtime (what
runs inside every engine), stepc/interpreter (the local scheduler, given the IR), stepc/commands
(the CLI edge) and backends/ (installed as stepc.backends: IR in, files out).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import GOLDEN, REPO

# source folder -> the package it is installed as
PACKAGES = {"stepc": "stepc", "backends": "stepc.backends"}


@dataclass(frozen=True)
class Import:
    importer: str  # module name, as installed
    imported: str  # module name (or the package a name is imported from)
    line: int
    top_level: bool  # runs when the importer is imported (not inside a function, not TYPE_CHECKING)


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = module_files()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if _is_package(importer) else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))

    def visit(node: ast.AST, top: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, top)
            elif isinstance(child, ast.ImportFrom):
                source = _resolve(module, child)
                for alias in child.names:
                    # `from pkg import mod` imports the module pkg.mod when there is one
                    name = f"{source}.{alias.name}"
                    yield Import(module, name if name in MODULES else source, child.lineno, top)
            elif isinstance(child, ast.If) and _type_checking(child.test):
                for part in child.body:
                    yield from visit(ast.Module(body=[part], type_ignores=[]), False)
                for part in child.orelse:
                    yield from visit(ast.Module(body=[part], type_ignores=[]), top)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, False)
            else:
                yield from visit(child, top)

    yield from visit(tree, True)


IMPORTS = [i for module in MODULES for i in imports_of(module)]


def within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def offences(room: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{i.importer} (line {i.line}) imports {i.imported}"
        for i in IMPORTS
        if within(i.importer, room) and any(within(i.imported, f) for f in forbidden)
    ]


def test_the_walk_sees_the_rooms() -> None:
    # A rule over nothing would pass for the wrong reason.
    assert {"stepc.frontend.load", "stepc.runtime.entry", "stepc.interpreter.scheduler", "stepc.backends.argo"} <= set(
        MODULES
    )
    assert any(i.imported == "libcst" for i in IMPORTS)
    assert any(i.importer == "stepc.backends.argo" and i.imported == "stepc.backends.base" for i in IMPORTS)


def test_only_the_front_end_imports_libcst() -> None:
    readers = [
        f"{i.importer} (line {i.line})"
        for i in IMPORTS
        if within(i.imported, "libcst") and not within(i.importer, "stepc.frontend")
    ]
    assert readers == []


@pytest.mark.parametrize(
    ("room", "forbidden"),
    [
        # `stepc` itself is the user-facing API: the runtime takes the markers from stepc.runtime.markers
        ("stepc.runtime", ("stepc.interpreter", "stepc.frontend", "stepc.commands", "stepc.backends", "stepc.cli")),
        ("stepc.interpreter", ("stepc.frontend", "stepc.backends", "stepc.commands")),
        # the exec contract (value texts, the store layout) is the runtime's: backends may read it
        ("stepc.backends", ("stepc.frontend", "stepc.interpreter", "stepc.commands")),
        ("stepc.frontend", ("stepc.interpreter", "stepc.backends", "stepc.commands")),
    ],
)
def test_rooms_import_only_what_is_theirs(room: str, forbidden: tuple[str, ...]) -> None:
    assert offences(room, forbidden) == []


def test_the_runtime_does_not_import_the_stepc_api() -> None:
    assert [
        f"{i.importer} (line {i.line})"
        for i in IMPORTS
        if within(i.importer, "stepc.runtime") and i.imported == "stepc"
    ] == []


def loaded_with(module: str) -> set[str]:
    """Every stepc module (and outside top-level package) that importing ``module`` runs, by
    its top-level imports and those of its parent packages, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        parts = current.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            name = ".".join(parts[:depth])
            if name in seen:
                continue
            seen.add(name)
            if name in MODULES:
                todo += [i.imported for i in IMPORTS if i.importer == name and i.top_level]
    return seen


@pytest.mark.parametrize("module", sorted(m for m in MODULES if within(m, "stepc.runtime")))
def test_importing_the_runtime_loads_no_other_room(module: str) -> None:
    loaded = loaded_with(module)
    rooms = ("stepc.interpreter", "stepc.frontend", "stepc.commands", "stepc.backends", "libcst", "rich", "jinja2")
    assert sorted(m for m in loaded if any(within(m, room) for room in rooms)) == []


# --- a real engine task -----------------------------------------------------------------------

HEAVY = ("stepc.interpreter", "stepc.backends", "rich", "jinja2")


def exec_modules(tmp_path: Path, flow: Path, step: str) -> tuple[set[str], dict[str, object]]:
    """Run ``python -X importtime -m stepc exec`` on one step; the modules it imported and the
    control line."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "stepc", "exec", str(flow), "--step", step]
        + ["--run-id", "r1", "--store", f"file://{tmp_path / 'store'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in ran.stderr.splitlines() if line.startswith("import time:")}
    modules.discard("package")  # the header line
    return modules, json.loads(ran.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("flow", "step"), [("iris_training.py", "load"), ("metaflow_style.py", "start")])
def test_an_engine_task_does_not_load_the_scheduler(tmp_path: Path, flow: str, step: str) -> None:
    modules, control = exec_modules(tmp_path, GOLDEN / flow, step)
    assert control["status"] == "succeeded"
    assert {"stepc.runtime.entry", "stepc.runtime.exec"} <= modules  # the probe sees stepc's own imports
    if flow == "metaflow_style.py":
        assert "stepc.runtime.flowspec" in modules
    assert sorted(m for m in modules if any(within(m, heavy) for heavy in HEAVY)) == []
    # `stepc exec` reads the IR by parsing the flow with the front end (stepc.commands.run), so
    # an engine task still loads stepc.frontend and libcst: no IR travels with the task today.


# --- the edges read the source; the interpreter takes the IR ------------------------------------


def test_stepc_run_reads_the_flow_at_the_edge(tmp_path: Path) -> None:
    import stepc
    from stepc.frontend import load
    from stepc.interpreter import run_pipeline

    broken = tmp_path / "broken.py"
    broken.write_text("from stepc import step\n\n@step(inputs=['nothing'])\ndef lonely(nothing):\n    return 1\n")
    with pytest.raises(stepc.LoadError) as raised:
        stepc.run(broken, store=tmp_path / "store")
    assert [d.code for d in raised.value.diagnostics] == ["S104"]
    assert ":3:15: error[S104]: input 'nothing' of step 'lonely' has no producer" in str(raised.value)
    ir, _ = load(str(GOLDEN / "iris_training.py"))
    assert ir is not None
    result = run_pipeline(ir, GOLDEN / "iris_training.py", {"n_rows": 40}, store=tmp_path / "store", workers=2)
    assert result.ok and result.steps["evaluate"].status == "succeeded"
