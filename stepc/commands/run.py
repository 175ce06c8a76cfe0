"""``stepc run``, ``resume`` and ``exec``: argument parsing and printing only; the work is in
:mod:`stepc.interpreter` and :mod:`stepc.runtime` (the commands that read runs are in
:mod:`stepc.commands.runs`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from stepc.commands.common import (
    ITEM,
    RUN_ID,
    STORE_HELP,
    fail,
    kill_grace,
    load_flow,
    open_run_store,
    print_diags,
    run_row,
)
from stepc.diagnostics import Diagnostic, is_error
from stepc.items import Item
from stepc.params import DefaultError, ParamError, read_included, resolve, split_assignments


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
        fail(str(exc), 2)
    ir = load_flow(flow, pipeline)
    kill_grace(flow)  # a bad value stops here, before the run starts
    from stepc.interpreter import make_reporter, open_store, run_pipeline

    try:
        read_included(ir.params, resolve(ir.params, None, texts))  # a bad value is a usage error before anything runs
        the_store = open_store(store, flow)
    except (ParamError, ValueError) as exc:
        fail(str(exc), 2)
    known = [s.name for s in ir.steps]
    for name in rerun:
        if name not in known:
            from stepc.diagnostics import did_you_mean

            fail(f"--rerun: no step '{name}' in pipeline '{ir.name}'{did_you_mean(name, known)}", 2)
    try:
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
    except DefaultError as exc:
        fail(str(exc), 1)
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
        fail(str(exc), 2)
    the_store, db = open_run_store(store)
    row = run_row(db, run_id, root=the_store.root)
    db.close()
    try:
        target = resumable(row["run_id"], store=str(the_store.root), again=from_step is not None)
    except (LookupError, RuntimeError) as exc:
        fail(str(exc), 1)
    ir = load_flow(target.flow, target.pipeline)  # the flow as it is now: a fix made since applies
    kill_grace(target.flow)
    if from_step is not None and from_step not in [s.name for s in ir.steps]:
        from stepc.diagnostics import did_you_mean

        known = [s.name for s in ir.steps]
        fail(f"--from: no step '{from_step}' in pipeline '{ir.name}'{did_you_mean(from_step, known)}", 2)
    try:
        result = resume_run(ir, target, workers=workers, quiet=quiet, from_step=from_step, param_texts=texts)
    except ParamError as exc:
        fail(str(exc), 2)
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
@click.option(
    "--iteration",
    type=click.IntRange(min=0),
    default=0,
    help="a recursive switch's pass (0: the first): pass N reads what pass N-1 set",
)
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
    iteration: int,
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
    grace = kill_grace(flow)
    from stepc.config import deployed_branch, find_config
    from stepc.ir import parameters_read
    from stepc.runtime import entry
    from stepc.runtime.faults import check_writable
    from stepc.runtime.metaflow_current import BRANCH_VARIABLE
    from stepc.runtime.plan import pass_location
    from stepc.runtime.store import Store, open_store

    if ir.project is not None:  # an engine task runs on the branch the compiled files deploy
        os.environ.setdefault(BRANCH_VARIABLE, deployed_branch(find_config(Path(flow).parent)))

    try:
        the_store = open_store(store, flow, remote=True)
    except ValueError as exc:
        fail(str(exc), 2)
    if type(the_store) is Store and not items_of:  # a remote store's root is a scratch folder; --items-of only reads
        check_writable(the_store.root, "stepc exec")
    if rollback:
        message, code = entry.exec_rollbacks(ir, flow, run_id, the_store)
        click.echo(json.dumps(message, sort_keys=True))
        sys.exit(code)
    if not step_names and not items_of:
        fail("give --step NAME (or --rollback, or --items-of STEP)", 2)
    known = [s.name for s in ir.steps]
    for name in (*step_names, *([items_of] if items_of else [])):
        if name not in known:
            from stepc.diagnostics import did_you_mean

            fail(f"no step '{name}' in pipeline '{ir.name}'{did_you_mean(name, known)}", 2)
    steps = [ir.step(name) for name in step_names]
    if items_of:
        steps = [ir.step(items_of)]
        if step_names or not steps[0].scope or steps[0].scope[-1] != items_of:
            fail(f"--items-of names a step that opens a foreach (and no --step): '{items_of}' does not", 2)
    try:
        given = json.loads(params_json) if params_json else {}
        if not isinstance(given, dict):
            raise ParamError("--params must be a JSON object")
        if items_of:  # the lists' parameters, and those of the producers' conditions
            from stepc.runtime.plan import path_sources

            steps = [*(ir.step(n) for n in steps[0].scope), *path_sources(ir, steps[0])]
        from stepc.runtime.exec import default_evaluator

        evaluate = default_evaluator(flow, ir.module)
        values = resolve(ir.params, given, split_assignments(param_texts), parameters_read(steps), evaluate)
        values = read_included(ir.params, values)  # an engine task reads a file parameter itself
    except json.JSONDecodeError as exc:
        fail(f"--params is not valid JSON: {exc}", 2)
    except DefaultError as exc:
        fail(str(exc), 1)
    except ParamError as exc:
        fail(str(exc), 2)
    if items_of:
        message, code = entry.exec_paths(ir, items_of, run_id, the_store, values)
        if foreach_out and code == 0:
            entry.write_paths_out(Path(foreach_out), message)
        click.echo(json.dumps(message, sort_keys=True))
        sys.exit(code)
    code = 0
    fanouts: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    if iteration and (len(steps) != 1 or steps[0].repeat is None):
        fail("--iteration is for one step whose switch goes back to itself (a recursive switch)", 2)
    for step in steps:
        location = pass_location(step.name, iteration)
        before = max(the_store.attempt_numbers(run_id, location, item), default=0)
        message, code = _exec_one(
            ir, flow, step.name, run_id, the_store, values, item, attempt, retry, iteration, grace
        )
        for number in the_store.attempt_numbers(run_id, location, item):
            if number > before:  # echo the user's output for the engine's own log viewer
                text = the_store.log_path(run_id, location, item, number).read_text(encoding="utf-8", errors="replace")
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


def _exec_one(*args: Any) -> tuple[dict[str, Any], int]:
    """``entry.exec_task(*args)``; SIGTERM (an engine cancelling the task) or Ctrl-C stops the
    attempt and everything it started, then exits 143 or 130."""
    import signal

    from stepc.runtime import entry
    from stepc.runtime.processes import Terminated, on_sigterm_interrupt

    previous = on_sigterm_interrupt()
    try:
        return entry.exec_task(*args)
    except KeyboardInterrupt as stop:
        sig = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
        click.echo(f"error: interrupted by {sig.name}", err=True)
        sys.exit(128 + sig)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _load_quiet(flow: str, pipeline: str | None) -> tuple[Any, list[Diagnostic]]:
    from stepc.frontend import load

    ir, diags = load(flow, pipeline)
    if ir is None or is_error(diags):
        print_diags(diags)
        if not is_error(diags):
            fail(f"{flow}: no pipeline to run", 2)
        sys.exit(2)
    return ir, diags


# --- the run store -------------------------------------------------------------------------
