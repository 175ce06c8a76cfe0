"""What the run commands share: argument types, the store and run lookups, one-line failures."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from stepc.diagnostics import Diagnostic, is_error, render
from stepc.items import ItemPath, parse_item


class ItemPathType(click.ParamType):  # type: ignore[type-arg]
    """``--item 3`` or, inside nested foreach scopes, ``--item 1/0`` (outermost index first)."""

    name = "ITEM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> ItemPath:
        if isinstance(value, tuple):
            return value
        try:
            return parse_item(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


ITEM = ItemPathType()

MAX_RUN_ID = 200  # well under a file name's 255 bytes once percent-quoted in the store


class RunIdType(click.ParamType):  # type: ignore[type-arg]
    """A run id an engine passes (``{{workflow.name}}``, a GitHub run number, ...): one
    non-empty line of printable text, so that it names one folder of the store."""

    name = "RUN_ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text.strip():
            self.fail("a run id must not be empty", param, ctx)
        if not text.isprintable() or text in (".", ".."):
            self.fail(f"{text!r} is not a run id: use printable text other than '.' and '..'", param, ctx)
        if len(text) > MAX_RUN_ID:
            self.fail(f"a run id has at most {MAX_RUN_ID} characters, not {len(text)}", param, ctx)
        return text


RUN_ID = RunIdType()

STORE_HELP = "store directory or file:// URL (default: .stepc/ in the project)"


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_flow(flow: str, pipeline: str | None) -> Any:
    """The flow's IR, with diagnostics printed; exit 1 when it has errors."""
    from stepc.frontend import load

    ir, diags = load(flow, pipeline)
    print_diags(diags)
    if ir is None and not is_error(diags):
        fail(f"{flow}: no pipeline to run", 1)
    if ir is None or is_error(diags):
        sys.exit(1)
    return ir


def kill_grace(flow: str) -> float:
    """``[tool.stepc] kill_grace`` for ``flow``; a value that is no number of seconds is T103
    at its line and exit 2, before anything runs."""
    from stepc.config import find_config, grace_problem

    config = find_config(Path(flow))
    raw = config.settings.get("kill_grace")
    problem = None if raw is None else grace_problem(raw)
    if problem is not None:
        from stepc.config_diagnostics import top_level_problem

        print_diags([top_level_problem(config, "kill_grace", problem)])
        sys.exit(2)
    return config.kill_grace


def print_diags(diags: list[Diagnostic]) -> None:
    if diags:
        click.echo(render(diags, "text"), err=True, nl=False)


def open_run_store(store: str | None, need_db: bool = True) -> tuple[Any, Any]:
    """The store and its run database; without ``need_db``, a store that engines filled through
    `stepc exec` (files, no database) is enough."""
    from stepc.interpreter.rundb import RunDB
    from stepc.runtime.store import open_store

    try:
        the_store = open_store(store, Path.cwd() / "flow.py")
    except ValueError as exc:
        fail(str(exc), 2)
    if not the_store.db_path.exists():
        if need_db:
            fail(f"no runs in {the_store.root}", 1)
        return the_store, None
    return the_store, RunDB.reader(the_store.db_path)  # reading never writes: a read-only store is fine


def run_row(db: Any, run_id: str, the_store: Any = None, root: Path | None = None) -> dict[str, Any]:
    """The run's database row (``last`` is the newest run); with ``the_store``, a run an engine
    made (files, no row) too. ``root`` names the store in the error when there is none."""
    row = None
    if db is not None:
        if run_id in ("last", "latest"):
            rows = db.runs(1)
            row = rows[0] if rows else None
        else:
            row = db.run(run_id)
    if row is None and the_store is not None and the_store.run_dir(run_id).is_dir():
        # A run an engine made with `stepc exec`: only its files are in the store.
        row = {"run_id": run_id, "flow": str(Path.cwd() / "flow.py")}
    if row is None:
        root = root or (the_store.root if the_store is not None else None)
        where = f" in {root}" if root is not None else ""
        fail(f"no run {run_id!r}{where} (see `stepc runs`)", 1)
    result: dict[str, Any] = row
    return result


def wide_console() -> Any:
    """A console that does not squeeze tables to 80 columns when writing to a pipe or file."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def run_status(row: dict[str, Any]) -> str:
    """A run whose runner died without saying so (kill -9, power loss) shows as interrupted."""
    from stepc.interpreter.rundb import runner_alive

    if row["status"] == "running" and not runner_alive(row):
        return "interrupted"
    return str(row["status"])


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


# --- running -------------------------------------------------------------------------------
