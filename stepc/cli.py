"""The ``stepc`` command line: argument parsing only; the work happens in the rooms.

Subcommands are imported on first use so that ``stepc check`` does not pay for the
interpreter, the backends or rich.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from stepc import __version__

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "check": "stepc.commands.inspect:check",
    "ir": "stepc.commands.inspect:ir",
    "graph": "stepc.commands.inspect:graph",
    "compile": "stepc.commands.compile:compile",
    "image": "stepc.commands.image:image",
    "targets": "stepc.commands.targets:targets",
    "submit": "stepc.commands.submit:submit",
    "status": "stepc.commands.submit:status",
    "run": "stepc.commands.run:run",
    "resume": "stepc.commands.run:resume",
    "exec": "stepc.commands.run:exec_step",
    "runs": "stepc.commands.runs:runs",
    "show": "stepc.commands.runs:show",
    "logs": "stepc.commands.runs:logs",
    "metrics": "stepc.commands.runs:metrics",
    "store": "stepc.commands.store:store",
    "artifacts": "stepc.commands.runs:artifacts",
    "artifact": "stepc.commands.runs:artifact",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are named."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stepc")
def cli() -> None:
    """stepc: compile Python ML pipelines to Argo, Airflow, GitHub Actions and Valohai, and run
    them locally."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="stepc", standalone_mode=True)
    except Exception as exc:
        message = store_problem(exc)
        if message is None:
            raise
        click.echo(f"error: {message}", err=True)
        sys.exit(1)


def store_problem(exc: BaseException) -> str | None:
    """The one line for a store problem that reached the edge (a changed artifact, a corrupt
    file or database, a read-only or full disk, a file the user may not read), or None for
    anything else (a bug: its traceback stays)."""
    import sqlite3

    from stepc.runtime.faults import StoreError
    from stepc.runtime.store import CorruptArtifact

    if isinstance(exc, StoreError | CorruptArtifact):
        return str(exc)
    if isinstance(exc, sqlite3.Error):  # one that did not pass through RunDB, which names the file
        return f"the run database is unusable ({exc}): `stepc store repair` rebuilds its index from the files"
    if isinstance(exc, OSError):
        what = exc.filename or "a file"
        return f"cannot read or write {what}: {exc.strerror or exc}"
    return None
