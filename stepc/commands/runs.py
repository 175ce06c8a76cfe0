"""The commands that read the run store: ``runs``, ``show``, ``metrics``, ``logs``,
``artifacts`` and ``artifact``. Printing only; the store is :mod:`stepc.runtime.store`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import click

from stepc.commands.common import ITEM, STORE_HELP, fail, open_run_store, run_row, run_status, when, wide_console
from stepc.items import Item, item_text
from stepc.projectpaths import search_roots
from stepc.runtime.plan import pass_location


@click.command()
@click.option("--store", help=STORE_HELP)
@click.option("--limit", default=20, show_default=True, help="how many runs, newest first")
def runs(store: str | None, limit: int) -> None:
    """List runs, newest first."""
    from rich.table import Table

    from stepc.interpreter.progress import fmt_duration

    _, db = open_run_store(store)
    table = Table()
    for column in ("run", "pipeline", "status", "started", "duration", "flow"):
        table.add_column(column)
    for row in db.runs(limit):
        duration = None if row["ended"] is None else row["ended"] - row["started"]
        table.add_row(
            row["run_id"], row["pipeline"], run_status(row), when(row["started"]), fmt_duration(duration), row["flow"]
        )
    wide_console().print(table)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--store", help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show(run_id: str, store: str | None, as_json: bool) -> None:
    """Show one run: its parameters, steps, durations, cache hits, errors and rollbacks."""
    from rich.table import Table

    from stepc.interpreter.progress import fmt_duration

    shown, db = open_run_store(store)
    row = run_row(db, run_id, root=shown.root)
    steps = db.steps(row["run_id"])
    if as_json:
        doc = {
            "run": {**row, "status": run_status(row)},
            "steps": steps,
            "attempts": db.attempts(row["run_id"]),
            "rollbacks": db.rollbacks(row["run_id"]),
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
        return
    console = wide_console()
    console.print(f"run      {row['run_id']}\npipeline {row['pipeline']}\nflow     {row['flow']}")
    console.print(f"status   {run_status(row)}" + (f": {row['error']}" if row["error"] else ""))
    console.print(f"params   {row['params']}", markup=False)
    table = Table()
    for column in ("step", "status", "attempts", "duration", "cached", "items", "error"):
        table.add_column(column)
    for s in steps:
        table.add_row(
            s["step"],
            s["status"],
            str(s["attempts"]),
            fmt_duration(s["duration"]),
            "yes" if s["cached"] else "",
            "" if s["items"] is None else str(s["items"]),
            s["error"] or "",
        )
    console.print(table)
    rows = _metric_rows(shown, row["run_id"], [s["step"] for s in steps])
    if rows:
        console.print(_metrics_table(rows))
    for rb in db.rollbacks(row["run_id"]):
        where = rb["step"] if rb["item"] is None else f"{rb['step']}[{rb['item']}]"
        console.print(f"rollback {where}: {rb['status']}" + (f" ({rb['error']})" if rb["error"] else ""))


def _metric_rows(the_store: Any, run_id: str, steps: list[str]) -> list[tuple[str, str, str, str]]:
    """(step, item, metric, value) for every metric the steps' tasks recorded with
    ``current.metrics``, steps in the given order, items in item order."""
    from stepc.runtime.context import read_task_json

    rows = []
    for step in steps:
        for result in _committed(the_store, run_id, step):  # a step that failed has none: no rows
            for name, value in sorted(read_task_json(the_store, run_id, step, result.item, "metrics.json").items()):
                rows.append((step, item_text(result.item), name, json.dumps(value, sort_keys=True)))
    return rows


def _metrics_table(rows: list[tuple[str, str, str, str]]) -> Any:
    from rich.table import Table

    table = Table(title="metrics")
    for column in ("step", "item", "metric", "value"):
        table.add_column(column)
    for values in rows:
        table.add_row(*values)
    return table


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--store", help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="as JSON lines: step, item, metric, value")
def metrics(run_id: str, store: str | None, as_json: bool) -> None:
    """Print the metrics the steps of RUN recorded with `stepc.current.metrics`."""
    the_store, db = open_run_store(store, need_db=False)
    row = run_row(db, run_id, the_store)
    run_dir = the_store.run_dir(row["run_id"])
    steps = sorted(unquote(p.name) for p in run_dir.iterdir() if p.is_dir()) if run_dir.is_dir() else []
    if db is not None:
        order = [s["step"] for s in db.steps(row["run_id"])]
        steps = [s for s in order if s in steps] + [s for s in steps if s not in order]
    rows = _metric_rows(the_store, row["run_id"], steps)
    if not rows:
        fail(f"no metrics in run {row['run_id']} (steps record them with stepc.current.metrics)", 1)
    if as_json:
        for step, item, name, value in rows:
            click.echo(json.dumps({"step": step, "item": item or None, "metric": name, "value": json.loads(value)}))
        return
    wide_console().print(_metrics_table(rows))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--item", type=ITEM, help="the foreach item: K, or I/J/... inside nested foreach")
@click.option("--attempt", type=click.IntRange(min=1), help="attempt number (default: the last)")
@click.option("--iteration", type=click.IntRange(min=0), help="the pass of a step run again (default: every pass)")
@click.option("--store", help=STORE_HELP)
def logs(run_id: str, step: str, item: Item, attempt: int | None, iteration: int | None, store: str | None) -> None:
    """Print the captured log of a step attempt (stdout, stderr and any traceback); for a step
    a recursive switch ran again, each pass's in turn, or the one --iteration names."""
    the_store, db = open_run_store(store, need_db=False)
    run = run_row(db, run_id, the_store)["run_id"]
    passes = [iteration] if iteration is not None else list(_passes(the_store, run, step))
    for number in passes:
        if len(passes) > 1:
            click.echo(f"── pass {number} of step '{step}' ──", err=True)
        _print_log(the_store, run, step, number, item, attempt)


def _passes(the_store: Any, run_id: str, step: str) -> Iterator[int]:
    """0, then 1, 2, ... while the store holds a pass of that number (``<step>.<n>/``)."""
    yield 0
    number = 1
    while the_store.step_dir(run_id, pass_location(step, number)).is_dir():
        yield number
        number += 1


def _print_log(the_store: Any, run_id: str, step: str, iteration: int, item: Item, attempt: int | None) -> None:
    location = pass_location(step, iteration)
    numbers = the_store.attempt_numbers(run_id, location, item)
    if not numbers:
        hint = " (a foreach step: pass --item K)" if (the_store.step_dir(run_id, location) / "items").is_dir() else ""
        fail(f"no log for step '{location}' in run {run_id}{hint}", 1)
    number = attempt or numbers[-1]
    path = the_store.log_path(run_id, location, item, number)
    if not path.exists():
        fail(f"no attempt {number} of step '{location}' (attempts: {', '.join(map(str, numbers))})", 1)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text:
        where = f"step '{step}'" + (f" pass {iteration}" if iteration else "")
        where += f" item {item_text(item)}" if item is not None else ""
        click.echo(f"(attempt {number} of {where} printed nothing: its log {path} is empty)", err=True)
    click.echo(text, nl=False)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--store", help=STORE_HELP)
def artifacts(run_id: str, step: str, store: str | None) -> None:
    """List the outputs a step wrote (one row per item for a foreach step)."""
    from rich.table import Table

    the_store, db = open_run_store(store, need_db=False)
    row = run_row(db, run_id, the_store)
    results = _results(the_store, row["run_id"], step)
    table = Table()
    for column in ("item", "name", "format", "size", "sha256", "id"):
        table.add_column(column)
    for result in results:
        for meta in result.outputs:
            item = item_text(result.item)
            table.add_row(item, meta.name, meta.fmt, str(meta.size), meta.sha256[:12], meta.id)
    wide_console().print(table)


def _committed(the_store: Any, run_id: str, step: str) -> list[Any]:
    """The committed results of a step (one per item for a foreach step), rolled back or not."""
    return list(the_store.committed(run_id, step) or the_store.committed(run_id, step, rolled_back=True))


def _results(the_store: Any, run_id: str, step: str) -> list[Any]:
    """:func:`_committed`, which must not be empty (the command needs the outputs)."""
    results = _committed(the_store, run_id, step)
    if not results:
        fail(f"step '{step}' of run {run_id} has no outputs (did it run?)", 1)
    return list(results)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.argument("name")
@click.option("--item", type=ITEM, help="the foreach item: K, or I/J/... inside nested foreach")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the stored bytes to this file")
@click.option("--store", help=STORE_HELP)
def artifact(run_id: str, step: str, name: str, item: Item, output: str | None, store: str | None) -> None:
    """Print one artifact (JSON as JSON, other values by repr), or save it with -o."""
    the_store, db = open_run_store(store, need_db=False)
    row = run_row(db, run_id, the_store)
    results = [r for r in _results(the_store, row["run_id"], step) if r.item == item]
    if not results:
        fail(f"step '{step}' is a foreach step: pass --item K", 1)
    try:
        meta = results[0].output(name)
    except KeyError:
        known = ", ".join(m.name for m in results[0].outputs) or "none"
        fail(f"step '{step}' has no output '{name}' (outputs: {known})", 1)
    if output:
        Path(output).write_bytes(the_store.read_bytes(meta))
        click.echo(f"wrote {meta.size} bytes ({meta.fmt}) to {output}", err=True)
        return
    if meta.fmt == "json":
        click.echo(json.dumps(json.loads(the_store.read_bytes(meta)), indent=2, ensure_ascii=False))
        return
    # Pickles of the classes of the flow and of its project's modules import those modules:
    # from where stepc exec imported them (the flow's folder, then the project root).
    for folder in reversed([str(root) for root in search_roots(Path(row["flow"]))]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        click.echo(repr(the_store.read_artifact(meta)))
    except Exception as exc:  # noqa: BLE001 - unpickling runs arbitrary imports
        fail(f"cannot load {meta.fmt} artifact '{name}': {exc}; save it with -o FILE", 1)
