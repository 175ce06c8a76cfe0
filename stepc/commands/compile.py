"""``stepc compile``: IR to target files, written, printed, or checked against what is on disk."""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stepc.config import Config, find_config
from stepc.diagnostics import Diagnostic, is_error, relocate, render

if TYPE_CHECKING:
    from stepc.backends.base import GeneratedFile
    from stepc.ir import Pipeline


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the umask, which
    can only be read by setting it (this runs in the CLI's one thread)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomically(path: Path, content: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600 for its own sake; the generated file is the user's.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stale_diff(path: Path, content: str) -> str:
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if current == content:
        return ""
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            content.splitlines(keepends=True),
            fromfile=str(path) if path.is_file() else "/dev/null",
            tofile=f"{path} (stepc compile)",
        )
    )


def _configured_flows(config: Config) -> list[str]:
    flows = config.settings.get("flows", [])
    if not isinstance(flows, list) or not flows or config.root is None:
        raise click.UsageError("name the flow files, or list them in [tool.stepc] flows = [...]")
    return [str(config.root / str(flow)) for flow in flows]


def _target_names(chosen: str | list[str] | None, installed: dict[str, str]) -> list[str]:
    if not chosen:
        raise click.UsageError(f"choose a target with --target ({', '.join([*installed, 'all'])})")
    wanted = chosen if isinstance(chosen, list) else [chosen]
    names = sorted(installed) if "all" in wanted else [str(n) for n in wanted]
    for name in names:
        if name not in installed:
            raise click.BadParameter(
                f"unknown target {name!r}; installed: {', '.join(installed)}", param_hint="--target"
            )
    return names


def _collisions(owned: list[tuple[GeneratedFile, Pipeline, str]]) -> list[Diagnostic]:
    """T104 for each output file two pipelines would both write: names that differ only in
    characters a file name cannot hold (``a/b`` and ``a_b``), or only in case (one file on
    macOS and Windows). The same pipeline of the same file named twice writes it once."""
    from stepc.frontend.load import pipeline_diagnostic

    first: dict[str, tuple[GeneratedFile, Pipeline, str]] = {}
    found = []
    for item, pipeline, flow in owned:
        key = item.path.casefold()
        if key not in first:
            first[key] = (item, pipeline, flow)
            continue
        other, other_pipeline, other_flow = first[key]
        if other_pipeline.name == pipeline.name and Path(other_flow).resolve() == Path(flow).resolve():
            continue
        same = other.path
        if other.path != item.path:
            same = f"{other.path} and {item.path} (one file where case is ignored)"
        message = (
            f"pipelines '{other_pipeline.name}' ({other_flow}) and '{pipeline.name}' ({flow}) would both "
            f"write {same}; rename one of them"
        )
        found.append(pipeline_diagnostic(flow, pipeline.name, "T104", message))
    return found


def _strict(d: Diagnostic) -> Diagnostic:
    """Under --strict, partial support (a T101 warning) is an error."""
    if d.code != "T101" or d.severity != "warning":
        return d
    return dataclasses.replace(d, severity="error", message=f"{d.message} [--strict]")


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--target", "-t", "target_name", help="argo, airflow, gha, valohai or all (default: [tool.stepc] targets)"
)
@click.option("-o", "--output", help="output directory, or - for stdout (default: [tool.stepc] output or .)")
@click.option("--pipeline", "pipeline_name", help="which pipeline, when a file declares several")
@click.option("--check", is_flag=True, help="write nothing; exit 1 with a diff when the files on disk differ")
@click.option("--argo-kind", type=click.Choice(["workflow", "template", "cron"]), help="Argo document kind")
@click.option("--strict", is_flag=True, help="partial support (T101 warnings) is an error: exit 1, write nothing")
def compile(  # noqa: A001 - the command is called compile
    files: tuple[str, ...],
    target_name: str | None,
    output: str | None,
    pipeline_name: str | None,
    check: bool,
    argo_kind: str | None,
    strict: bool,
) -> None:
    """Compile FILES (default: [tool.stepc] flows) for one target or all. Files start with a
    header naming the source and the stepc version; they are checked by the target's lint
    before anything is written, and nothing is written when there is an error (with --strict,
    also when a target honours a feature only in part)."""
    from stepc.frontend import load
    from stepc.targets import available_targets, load_target

    config = find_config(Path(files[0]).parent if files else Path.cwd())
    flows = list(files) or _configured_flows(config)
    settings = config.settings
    names = _target_names(target_name or settings.get("targets") or settings.get("target"), available_targets())
    options: dict[str, dict[str, Any]] = {"argo": {"kind": argo_kind} if argo_kind else {}}
    diagnostics: list[Diagnostic] = []
    owned: list[tuple[GeneratedFile, Pipeline, str]] = []
    for flow in flows:
        pipeline, found = load(flow, pipeline_name)
        diagnostics.extend(found)
        if pipeline is None:
            continue
        for name in names:
            backend = load_target(name)(config, options.get(name))
            files_out, problems = backend.compile(pipeline)
            diagnostics.extend(
                relocate(problems, pipeline.source, flow, {s.span.file for s in pipeline.steps if s.span})
            )
            owned.extend((item, pipeline, flow) for item in files_out)
    # A settings problem is found once per flow compiled; say it once.
    diagnostics = [*dict.fromkeys(diagnostics), *_collisions(owned)]
    # Past the T104 check a path seen again is the same pipeline, named twice: write it once.
    generated = list({item.path.casefold(): item for item, _, _ in reversed(owned)}.values())[::-1]
    if strict:
        diagnostics = [_strict(d) for d in diagnostics]
    if diagnostics:
        click.echo(render(diagnostics, "text"), nl=False, err=True)
    if is_error(diagnostics):
        sys.exit(1)

    destination = output if output is not None else str(settings.get("output", "."))
    if destination == "-":
        for item in generated:
            if len(generated) > 1:
                click.echo(f"# ---- {item.path}")
            click.echo(item.content, nl=False)
        return
    out_dir = Path(destination)
    if check:
        diffs = [diff for item in generated if (diff := _stale_diff(out_dir / item.path, item.content))]
        if diffs:
            click.echo("".join(diffs), nl=False)
            click.echo("stale generated files: run `stepc compile` without --check to refresh them", err=True)
        sys.exit(1 if diffs else 0)
    mode = _file_mode()
    for item in generated:
        _write_atomically(out_dir / item.path, item.content, mode)
        click.echo(f"wrote {out_dir / item.path}", err=True)
