"""``stepc store``: looking after the run store itself."""

from __future__ import annotations

import click

from stepc.commands.common import STORE_HELP, fail


@click.group()
def store() -> None:
    """Look after the run store (.stepc/ of the project, or --store)."""


@store.command()
@click.option("--store", "location", help=STORE_HELP)
def repair(location: str | None) -> None:
    """Rebuild the run database from the files under runs/ (the old one is kept aside)."""
    from pathlib import Path

    from stepc.interpreter.repair import repair as rebuild
    from stepc.runtime.faults import check_writable
    from stepc.runtime.store import open_store

    try:
        the_store = open_store(location, Path.cwd() / "flow.py")
    except ValueError as exc:
        fail(str(exc), 2)
    if not (the_store.root / "runs").is_dir() and not the_store.db_path.exists():
        fail(f"no store at {the_store.root}", 1)
    check_writable(the_store.root, "stepc store repair")
    done = rebuild(the_store)
    if done.moved_to:
        click.echo(f"moved the old database to {done.moved_to}")
    click.echo(f"indexed {done.runs} run(s), {done.tasks} task(s) from {the_store.root / 'runs'}")
