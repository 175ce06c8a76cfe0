"""``stepc compile``: IR to target files, written, printed, or checked against what is on disk."""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from stepc.config import find_config
from stepc.diagnostics import Diagnostic, is_error, render


def _with_source(diagnostics: list[Diagnostic], source: str, path: str) -> list[Diagnostic]:
    """Backends point at the IR's project-relative file; show the user's path and the line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    fixed = []
    for d in diagnostics:
        if d.file == source:
            line = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
            d = dataclasses.replace(d, file=path, source_line=line.expandtabs(1))
        fixed.append(d)
    return fixed


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target_name", help="argo, airflow, ... or all (default: [tool.stepc] target)")
@click.option("-o", "--output", help="output directory, or - for stdout (default: [tool.stepc] output or .)")
@click.option("--pipeline", "pipeline_name", help="which pipeline, when the file declares several")
@click.option("--check", is_flag=True, help="write nothing; exit 1 with a diff when the files on disk differ")
@click.option("--argo-kind", type=click.Choice(["workflow", "template", "cron"]), help="Argo document kind")
def compile(  # noqa: A001 - the command is called compile
    file: str,
    target_name: str | None,
    output: str | None,
    pipeline_name: str | None,
    check: bool,
    argo_kind: str | None,
) -> None:
    """Compile FILE for one target or all. Files start with a header naming the source and the
    stepc version; they are checked by the target's lint before anything is written."""
    from stepc.frontend import load
    from stepc.targets import available_targets, load_target

    config = find_config(Path(file).parent)
    targets = available_targets()
    chosen = target_name or config.settings.get("target")
    if not chosen:
        raise click.UsageError(f"choose a target with --target ({', '.join([*targets, 'all'])})")
    names = sorted(targets) if chosen == "all" else [str(chosen)]
    for name in names:
        if name not in targets:
            raise click.BadParameter(f"unknown target {name!r}; installed: {', '.join(targets)}", param_hint="--target")

    pipeline, diagnostics = load(file, pipeline_name)
    if pipeline is None:
        click.echo(render(diagnostics, "text"), nl=False, err=True)
        sys.exit(1)
    options: dict[str, dict[str, Any]] = {"argo": {"kind": argo_kind} if argo_kind else {}}
    files = []
    for name in names:
        backend = load_target(name)(config, options.get(name))
        generated, found = backend.compile(pipeline)
        diagnostics.extend(_with_source(found, pipeline.source, file))
        files.extend(generated)
    if diagnostics:
        click.echo(render(diagnostics, "text"), nl=False, err=True)
    if is_error(diagnostics):
        sys.exit(1)

    destination = output if output is not None else str(config.settings.get("output", "."))
    if destination == "-":
        for generated in files:
            if len(files) > 1:
                click.echo(f"# ---- {generated.path}")
            click.echo(generated.content, nl=False)
        return
    out_dir = Path(destination)
    if check:
        stale = False
        for generated in files:
            path = out_dir / generated.path
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
            if current != generated.content:
                stale = True
                click.echo(
                    "".join(
                        difflib.unified_diff(
                            current.splitlines(keepends=True),
                            generated.content.splitlines(keepends=True),
                            fromfile=str(path) if path.is_file() else "/dev/null",
                            tofile=f"{path} (stepc compile)",
                        )
                    ),
                    nl=False,
                )
        if stale:
            click.echo(f"stale: run `stepc compile {file} --target {chosen} -o {destination}`", err=True)
        sys.exit(1 if stale else 0)
    for generated in files:
        _write_atomically(out_dir / generated.path, generated.content)
        click.echo(f"wrote {out_dir / generated.path}", err=True)
