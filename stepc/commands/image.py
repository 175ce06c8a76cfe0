"""``stepc image``: write the Dockerfiles of the images a pipeline's steps run in."""

from __future__ import annotations

from pathlib import Path

import click

from stepc.commands.common import load_flow, print_diags


@click.command()
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default=".", show_default=True, help="directory for the Dockerfiles, or - for stdout")
@click.option("--pipeline", "pipeline_name", help="which pipeline, when the file declares several")
def image(flow: str, output: str, pipeline_name: str | None) -> None:
    """Write a Dockerfile per image the pipeline's steps run in: that image, stepc, and the
    project (copied to /app and pip-installed when it is a package). Build them from the
    project root, then name the built images with image= (or [tool.stepc] image)."""
    from stepc.commands.compile import _file_mode, _write_atomically
    from stepc.config import find_config
    from stepc.diagnostics import relocate
    from stepc.dockerfile import dockerfiles, image_problems, read_project

    pipeline = load_flow(flow, pipeline_name)
    problems = relocate(image_problems(pipeline), pipeline.source, flow)
    if problems:
        print_diags(problems)
        raise SystemExit(1)
    config = find_config(Path(flow).parent)
    root = config.root if config.root is not None else Path(flow).resolve().parent
    files = dockerfiles(pipeline, read_project(root))
    if output == "-":
        for item in files:
            if len(files) > 1:
                click.echo(f"# ---- {item.path}")
            click.echo(item.text, nl=False)
        return
    mode = _file_mode()
    for item in files:
        path = Path(output) / item.path
        _write_atomically(path, item.text, mode)
        click.echo(f"wrote {path} (FROM {item.base}: {', '.join(item.steps)})", err=True)
