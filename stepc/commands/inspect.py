"""``stepc check``, ``stepc ir`` and ``stepc graph``: read flows, print what was found."""

from __future__ import annotations

import sys
from typing import Literal

import click

from stepc.diagnostics import Diagnostic, is_error, render

_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"})


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Files as given; directories as every ``.py`` file below them (hidden and virtualenv
    folders excepted), sorted, as ruff and mypy do."""
    from pathlib import Path

    files: list[str] = []
    for path in paths:
        root = Path(path)
        if not root.is_dir():
            files.append(path)
            continue
        for found in sorted(root.rglob("*.py")):
            parts = found.relative_to(root).parts[:-1]
            if not any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts):
                files.append(str(found))
    return files


def _named_flow(path: str, named: tuple[str, ...]) -> bool:
    """A file named on the command line (as pre-commit names each changed file), other than a
    package's ``__init__.py``, which is never a flow to run, however empty."""
    from pathlib import Path

    return path in named and Path(path).name != "__init__.py"


def _emit_diagnostics(diagnostics: list[Diagnostic], fmt: Literal["text", "json", "github"] = "text") -> None:
    if diagnostics or fmt == "json":
        click.echo(render(diagnostics, fmt), nl=False, err=fmt == "text")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
    help="text for people, json for tools, github for workflow annotations",
)  # fmt: skip
@click.option("--all-files", is_flag=True, help="also read files that import neither stepc nor metaflow")
def check(files: tuple[str, ...], fmt: Literal["text", "json", "github"], all_files: bool) -> None:
    """Report the compiler's diagnostics for FILES (directories: every .py file below them).
    Exit 1 on any error, 0 when clean."""
    from stepc.frontend import read_file

    diagnostics: list[Diagnostic] = []
    paths = _expand(files)
    for path in paths:
        result = read_file(path, only_flows=not all_files)
        diagnostics.extend(result.diagnostics)
        empty = not (result.pipelines or result.diagnostics or result.unwired or result.passed_over)
        if empty and _named_flow(path, files):
            # What `stepc run` says of a flow file named on the command line that declares no step
            # (files found in a directory may be helper modules).
            diagnostics.append(Diagnostic("S003", f"no @step functions found in {path}", path))
    diagnostics = list(dict.fromkeys(diagnostics))  # a module's problems, found again through a flow importing it
    if fmt == "text":
        _emit_diagnostics(diagnostics, "text")
        errors = sum(d.severity == "error" for d in diagnostics)
        warnings = len(diagnostics) - errors
        if diagnostics:
            click.echo(f"{errors} error(s), {warnings} warning(s) in {len(paths)} file(s)", err=True)
    else:
        click.echo(render(diagnostics, fmt), nl=False)
    sys.exit(1 if is_error(diagnostics) else 0)


def _load_or_exit(path: str, pipeline: str | None) -> object:
    from stepc.frontend import load

    loaded, diagnostics = load(path, pipeline)
    _emit_diagnostics(diagnostics)
    if loaded is None:
        sys.exit(1)
    return loaded


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--pipeline", "pipeline_name", help="which pipeline, when the file declares several")
def ir(file: str, pipeline_name: str | None) -> None:
    """Print the IR of FILE as JSON (stable: sorted keys, no timestamps, no absolute paths)."""
    from stepc.ir import Pipeline
    from stepc.ir_json import to_json

    loaded = _load_or_exit(file, pipeline_name)
    assert isinstance(loaded, Pipeline)
    click.echo(to_json(loaded), nl=False)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.option("--pipeline", "pipeline_name", help="which pipeline, when the file declares several")
def graph(file: str, fmt: str, pipeline_name: str | None) -> None:
    """Print the DAG of FILE as Mermaid or Graphviz dot (foreach, conditions and groups shown)."""
    from stepc.graph import to_dot, to_mermaid
    from stepc.ir import Pipeline

    loaded = _load_or_exit(file, pipeline_name)
    assert isinstance(loaded, Pipeline)
    click.echo(to_mermaid(loaded) if fmt == "mermaid" else to_dot(loaded), nl=False)
