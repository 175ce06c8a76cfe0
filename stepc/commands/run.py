"""``stepc run``, ``resume``, ``exec`` and the run store commands (``runs``, ``show``, ``logs``,
``artifacts``, ``artifact``). Argument parsing and printing only; the work is in
:mod:`stepc.interpreter` and :mod:`stepc.runtime`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote

import click

from stepc.diagnostics import Diagnostic, is_error, render
from stepc.items import Item, ItemPath, item_text, parse_item
from stepc.params import ParamError, resolve, split_assignments


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


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _load(flow: str, pipeline: str | None) -> Any:
    """The flow's IR, with diagnostics printed; exit 1 when it has errors."""
    from stepc.frontend import load

    ir, diags = load(flow, pipeline)
    _print_diags(diags)
    if ir is None and not is_error(diags):
        _fail(f"{flow}: no pipeline to run", 1)
    if ir is None or is_error(diags):
        sys.exit(1)
    return ir


def _print_diags(diags: list[Diagnostic]) -> None:
    if diags:
        click.echo(render(diags, "text"), err=True, nl=False)


def _open(store: str | None, need_db: bool = True) -> tuple[Any, Any]:
    """The store and its run database; without ``need_db``, a store that engines filled through
    `stepc exec` (files, no database) is enough."""
    from stepc.interpreter.rundb import RunDB
    from stepc.runtime.store import open_store

    try:
        the_store = open_store(store, Path.cwd() / "flow.py")
    except ValueError as exc:
        _fail(str(exc), 2)
    if not the_store.db_path.exists():
        if need_db:
            _fail(f"no runs in {the_store.root}", 1)
        return the_store, None
    return the_store, RunDB(the_store.db_path)


def _run_row(db: Any, run_id: str, the_store: Any = None, root: Path | None = None) -> dict[str, Any]:
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
        _fail(f"no run {run_id!r}{where} (see `stepc runs`)", 1)
    result: dict[str, Any] = row
    return result


def _console() -> Any:
    """A console that does not squeeze tables to 80 columns when writing to a pipe or file."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _status(row: dict[str, Any]) -> str:
    """A run whose runner died without saying so (kill -9, power loss) shows as interrupted."""
    from stepc.interpreter.rundb import runner_alive

    if row["status"] == "running" and not runner_alive(row):
        return "interrupted"
    return str(row["status"])


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


# --- running -------------------------------------------------------------------------------


@click.command()
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="a pipeline parameter")
@click.option("--workers", "-j", type=click.IntRange(min=1), help="steps or items at once (default: cores)")
@click.option("--pipeline", help="which pipeline of the file")
@click.option("--store", help=STORE_HELP)
@click.option("--quiet", "-q", is_flag=True, help="no progress display, no step output, no summary")
@click.option("--no-cache", is_flag=True, help="reuse no stored result (what runs is still stored)")
@click.option("--rerun", multiple=True, metavar="STEP", help="run STEP even if a stored result matches (repeat)")
def run(
    flow: str,
    params: tuple[str, ...],
    workers: int | None,
    pipeline: str | None,
    store: str | None,
    quiet: bool,
    no_cache: bool,
    rerun: tuple[str, ...],
) -> None:
    """Run FLOW locally: parallel, cached, with retries, timeouts and rollbacks."""
    try:
        texts = split_assignments(params)
    except ParamError as exc:
        _fail(str(exc), 2)
    ir = _load(flow, pipeline)
    from stepc.interpreter import make_reporter, open_store, run_pipeline

    try:
        resolve(ir.params, None, texts)  # a bad value is a usage error before anything runs
        the_store = open_store(store, flow)
    except (ParamError, ValueError) as exc:
        _fail(str(exc), 2)
    known = [s.name for s in ir.steps]
    for name in rerun:
        if name not in known:
            from stepc.diagnostics import did_you_mean

            _fail(f"--rerun: no step '{name}' in pipeline '{ir.name}'{did_you_mean(name, known)}", 2)
    result = run_pipeline(
        ir,
        flow,
        param_texts=texts,
        workers=workers,
        store=the_store,
        reporter=make_reporter(quiet),
        no_cache=no_cache,
        rerun=rerun,
    )
    if not result.ok and quiet:
        click.echo(f"run {result.run_id} {result.status}: {result.error}", err=True)
    sys.exit(result.exit_code)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--workers", "-j", type=click.IntRange(min=1), help="steps or items at once")
@click.option("--store", help=STORE_HELP)
@click.option("--quiet", "-q", is_flag=True)
@click.option("--from", "from_step", metavar="STEP", help="run STEP and every step after it again")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="a new value (steps kept must not read it)"
)
def resume(
    run_id: str, workers: int | None, store: str | None, quiet: bool, from_step: str | None, params: tuple[str, ...]
) -> None:
    """Continue a failed or killed run; what succeeded is not run again (but --from STEP on)."""
    from stepc.interpreter import resumable
    from stepc.interpreter import resume as resume_run

    try:
        texts = split_assignments(params)
    except ParamError as exc:
        _fail(str(exc), 2)
    the_store, db = _open(store)
    row = _run_row(db, run_id, root=the_store.root)
    db.close()
    try:
        target = resumable(row["run_id"], store=str(the_store.root), again=from_step is not None)
    except (LookupError, RuntimeError) as exc:
        _fail(str(exc), 1)
    ir = _load(target.flow, target.pipeline)  # the flow as it is now: a fix made since applies
    if from_step is not None and from_step not in [s.name for s in ir.steps]:
        from stepc.diagnostics import did_you_mean

        known = [s.name for s in ir.steps]
        _fail(f"--from: no step '{from_step}' in pipeline '{ir.name}'{did_you_mean(from_step, known)}", 2)
    try:
        result = resume_run(ir, target, workers=workers, quiet=quiet, from_step=from_step, param_texts=texts)
    except ParamError as exc:
        _fail(str(exc), 2)
    if not result.ok and quiet:
        click.echo(f"run {result.run_id} {result.status}: {result.error}", err=True)
    sys.exit(result.exit_code)


@click.command("exec")
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("--step", "step_names", multiple=True, help="the step to run (repeat: a group, in order)")
@click.option("--run-id", type=RUN_ID, required=True, help="the run this attempt belongs to")
@click.option("--item", type=ITEM, help="the foreach item to run: K, or I/J/... inside nested foreach")
@click.option("--store", help=STORE_HELP)
@click.option("--params", "params_json", help="parameter values as a JSON object")
@click.option("-p", "--param", "param_texts", multiple=True, metavar="NAME=VALUE", help="a parameter (after --params)")
@click.option("--pipeline", help="which pipeline of the file")
@click.option("--attempt", type=click.IntRange(min=1), help="attempt number (default: the next one)")
@click.option("--retry", is_flag=True, help="retry a failed attempt as the step's retry policy says")
@click.option("--foreach-out", type=click.Path(file_okay=False), help="write <DIR>/<output>.json item lists")
@click.option(
    "--values-out",
    type=click.Path(file_okay=False),
    help="write <DIR>/<step>/<output>.txt: the values of outputs that downstream conditions read",
)
@click.option("--rollback", is_flag=True, help="run the rollbacks of the run's succeeded steps instead")
@click.option(
    "--items-of",
    metavar="STEP",
    help="print (and with --foreach-out write <DIR>/paths.json) the item paths of the foreach STEP opens instead",
)
def exec_step(
    flow: str,
    step_names: tuple[str, ...],
    run_id: str,
    item: Item,
    store: str | None,
    params_json: str | None,
    param_texts: tuple[str, ...],
    pipeline: str | None,
    attempt: int | None,
    retry: bool,
    foreach_out: str | None,
    values_out: str | None,
    rollback: bool,
    items_of: str | None,
) -> None:
    """Run one attempt of a step (the command every backend runs); prints a JSON control line.

    Several --step options run the steps of a group back to back in this one process, each
    with its own control line, stopping at the first that fails. Exit code: 0 success (or
    skipped), 1 the step failed, 2 it could not start. With --rollback: the rollbacks of the
    run's succeeded tasks, newest first, and one control line listing them. With --items-of: the
    index paths of a nested foreach, read from its producers' results, for engines to fan out over.
    """
    ir, _ = _load_quiet(flow, pipeline)
    from stepc.ir import parameters_read
    from stepc.runtime import entry
    from stepc.runtime.store import open_store

    try:
        the_store = open_store(store, flow, remote=True)
    except ValueError as exc:
        _fail(str(exc), 2)
    if rollback:
        message, code = entry.exec_rollbacks(ir, flow, run_id, the_store)
        click.echo(json.dumps(message, sort_keys=True))
        sys.exit(code)
    if not step_names and not items_of:
        _fail("give --step NAME (or --rollback, or --items-of STEP)", 2)
    known = [s.name for s in ir.steps]
    for name in (*step_names, *([items_of] if items_of else [])):
        if name not in known:
            from stepc.diagnostics import did_you_mean

            _fail(f"no step '{name}' in pipeline '{ir.name}'{did_you_mean(name, known)}", 2)
    steps = [ir.step(name) for name in step_names]
    if items_of:
        steps = [ir.step(items_of)]
        if step_names or not steps[0].scope or steps[0].scope[-1] != items_of:
            _fail(f"--items-of names a step that opens a foreach (and no --step): '{items_of}' does not", 2)
    try:
        given = json.loads(params_json) if params_json else {}
        if not isinstance(given, dict):
            raise ParamError("--params must be a JSON object")
        if items_of:  # the lists' parameters, and those of the producers' conditions
            from stepc.runtime.plan import path_sources

            steps = [*(ir.step(n) for n in steps[0].scope), *path_sources(ir, steps[0])]
        values = resolve(ir.params, given, split_assignments(param_texts), needed=parameters_read(steps))
    except json.JSONDecodeError as exc:
        _fail(f"--params is not valid JSON: {exc}", 2)
    except ParamError as exc:
        _fail(str(exc), 2)
    if items_of:
        message, code = entry.exec_paths(ir, items_of, run_id, the_store, values)
        if foreach_out and code == 0:
            entry.write_paths_out(Path(foreach_out), message)
        click.echo(json.dumps(message, sort_keys=True))
        sys.exit(code)
    code = 0
    fanouts: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for step in steps:
        before = max(the_store.attempt_numbers(run_id, step.name, item), default=0)
        message, code = entry.exec_task(ir, flow, step.name, run_id, the_store, values, item, attempt, retry)
        for number in the_store.attempt_numbers(run_id, step.name, item):
            if number > before:  # echo the user's output for the engine's own log viewer
                text = the_store.log_path(run_id, step.name, item, number).read_text(encoding="utf-8", errors="replace")
                # Engines that merge stderr into stdout must still find the control line alone.
                sys.stderr.write(text if not text or text.endswith("\n") else text + "\n")
                sys.stderr.flush()
        if foreach_out and code == 0:
            entry.write_foreach_out(Path(foreach_out), ir, step, message)
        if values_out:  # a skipped or caught step writes "unknown": the consumer's exec decides
            entry.write_values_out(Path(values_out), ir, step, message)
        # Engines read the last line only: in a group it carries every step's fan-out counts.
        fanouts.update(message.get("foreach") or {})
        if fanouts:
            message = {**message, "foreach": dict(fanouts)}
        shown.update(message.get("values") or {})  # likewise every step's condition values
        if shown:
            message = {**message, "values": dict(shown)}
        click.echo(json.dumps(message, sort_keys=True))
        if code != 0:
            break
    sys.exit(code)


def _load_quiet(flow: str, pipeline: str | None) -> tuple[Any, list[Diagnostic]]:
    from stepc.frontend import load

    ir, diags = load(flow, pipeline)
    if ir is None or is_error(diags):
        _print_diags(diags)
        if not is_error(diags):
            _fail(f"{flow}: no pipeline to run", 2)
        sys.exit(2)
    return ir, diags


# --- the run store -------------------------------------------------------------------------


@click.command()
@click.option("--store", help=STORE_HELP)
@click.option("--limit", default=20, show_default=True, help="how many runs, newest first")
def runs(store: str | None, limit: int) -> None:
    """List runs, newest first."""
    from rich.table import Table

    from stepc.interpreter.progress import fmt_duration

    _, db = _open(store)
    table = Table()
    for column in ("run", "pipeline", "status", "started", "duration", "flow"):
        table.add_column(column)
    for row in db.runs(limit):
        duration = None if row["ended"] is None else row["ended"] - row["started"]
        table.add_row(
            row["run_id"], row["pipeline"], _status(row), _when(row["started"]), fmt_duration(duration), row["flow"]
        )
    _console().print(table)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--store", help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show(run_id: str, store: str | None, as_json: bool) -> None:
    """Show one run: its parameters, steps, durations, cache hits, errors and rollbacks."""
    from rich.table import Table

    from stepc.interpreter.progress import fmt_duration

    shown, db = _open(store)
    row = _run_row(db, run_id, root=shown.root)
    steps = db.steps(row["run_id"])
    if as_json:
        doc = {
            "run": {**row, "status": _status(row)},
            "steps": steps,
            "attempts": db.attempts(row["run_id"]),
            "rollbacks": db.rollbacks(row["run_id"]),
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
        return
    console = _console()
    console.print(f"run      {row['run_id']}\npipeline {row['pipeline']}\nflow     {row['flow']}")
    console.print(f"status   {_status(row)}" + (f": {row['error']}" if row["error"] else ""))
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
        for result in _results(the_store, run_id, step):
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
    the_store, db = _open(store, need_db=False)
    row = _run_row(db, run_id, the_store)
    run_dir = the_store.run_dir(row["run_id"])
    steps = sorted(unquote(p.name) for p in run_dir.iterdir() if p.is_dir()) if run_dir.is_dir() else []
    if db is not None:
        order = [s["step"] for s in db.steps(row["run_id"])]
        steps = [s for s in order if s in steps] + [s for s in steps if s not in order]
    rows = _metric_rows(the_store, row["run_id"], steps)
    if not rows:
        _fail(f"no metrics in run {row['run_id']} (steps record them with stepc.current.metrics)", 1)
    if as_json:
        for step, item, name, value in rows:
            click.echo(json.dumps({"step": step, "item": item or None, "metric": name, "value": json.loads(value)}))
        return
    _console().print(_metrics_table(rows))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--item", type=ITEM, help="the foreach item: K, or I/J/... inside nested foreach")
@click.option("--attempt", type=click.IntRange(min=1), help="attempt number (default: the last)")
@click.option("--store", help=STORE_HELP)
def logs(run_id: str, step: str, item: Item, attempt: int | None, store: str | None) -> None:
    """Print the captured log of a step attempt (stdout, stderr and any traceback)."""
    the_store, db = _open(store, need_db=False)
    row = _run_row(db, run_id, the_store)
    numbers = the_store.attempt_numbers(row["run_id"], step, item)
    if not numbers:
        hint = (
            " (a foreach step: pass --item K)" if (the_store.step_dir(row["run_id"], step) / "items").is_dir() else ""
        )
        _fail(f"no log for step '{step}' in run {row['run_id']}{hint}", 1)
    number = attempt or numbers[-1]
    path = the_store.log_path(row["run_id"], step, item, number)
    if not path.exists():
        _fail(f"no attempt {number} of step '{step}' (attempts: {', '.join(map(str, numbers))})", 1)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text:
        where = f"step '{step}'" + (f" item {item_text(item)}" if item is not None else "")
        click.echo(f"(attempt {number} of {where} printed nothing: its log {path} is empty)", err=True)
    click.echo(text, nl=False)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--store", help=STORE_HELP)
def artifacts(run_id: str, step: str, store: str | None) -> None:
    """List the outputs a step wrote (one row per item for a foreach step)."""
    from rich.table import Table

    the_store, db = _open(store, need_db=False)
    row = _run_row(db, run_id, the_store)
    results = _results(the_store, row["run_id"], step)
    table = Table()
    for column in ("item", "name", "format", "size", "sha256", "id"):
        table.add_column(column)
    for result in results:
        for meta in result.outputs:
            item = item_text(result.item)
            table.add_row(item, meta.name, meta.fmt, str(meta.size), meta.sha256[:12], meta.id)
    _console().print(table)


def _results(the_store: Any, run_id: str, step: str) -> list[Any]:
    """The committed results of a step (one per item for a foreach step), rolled back or not."""
    results = the_store.committed(run_id, step) or the_store.committed(run_id, step, rolled_back=True)
    if not results:
        _fail(f"step '{step}' of run {run_id} has no outputs (did it run?)", 1)
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
    the_store, db = _open(store, need_db=False)
    row = _run_row(db, run_id, the_store)
    results = [r for r in _results(the_store, row["run_id"], step) if r.item == item]
    if not results:
        _fail(f"step '{step}' is a foreach step: pass --item K", 1)
    try:
        meta = results[0].output(name)
    except KeyError:
        known = ", ".join(m.name for m in results[0].outputs) or "none"
        _fail(f"step '{step}' has no output '{name}' (outputs: {known})", 1)
    if output:
        Path(output).write_bytes(the_store.read_bytes(meta))
        click.echo(f"wrote {meta.size} bytes ({meta.fmt}) to {output}", err=True)
        return
    if meta.fmt == "json":
        click.echo(json.dumps(json.loads(the_store.read_bytes(meta)), indent=2, ensure_ascii=False))
        return
    flow_dir = str(Path(row["flow"]).parent)
    if flow_dir not in sys.path:
        sys.path.insert(0, flow_dir)  # pickles of the flow's own classes import its module
    try:
        click.echo(repr(the_store.read_artifact(meta)))
    except Exception as exc:  # noqa: BLE001 - unpickling runs arbitrary imports
        _fail(f"cannot load {meta.fmt} artifact '{name}': {exc}; save it with -o FILE", 1)
