"""``stepc submit`` and ``stepc status``: option parsing only; the work is in :mod:`stepc.submit`
(imported on use, so that ``stepc check`` never loads the Airflow client)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stepc.config import find_config

F = TypeVar("F", bound=Callable[..., Any])
TARGETS = ("airflow",)  # engines stepc can submit to


def _connection_options(command: F) -> F:
    """Where Airflow is and how to log in; shared by submit and status."""
    options = [
        click.option("--url", help="Airflow's base URL (default: [tool.stepc.airflow] url or http://127.0.0.1:8080)"),
        click.option("--user", envvar="STEPC_AIRFLOW_USER", show_envvar=True, help="user to log in as"),
        click.option("--password", envvar="STEPC_AIRFLOW_PASSWORD", show_envvar=True, help="the user's password"),
        click.option("--token", envvar="STEPC_AIRFLOW_TOKEN", show_envvar=True, help="a JWT instead of logging in"),
        click.option("--request-timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                     help="seconds for each API request"),
        click.option("--timeout", "run_timeout", type=click.FloatRange(min=0), default=3600.0, show_default=True,
                     help="seconds to follow a run before giving up (the run goes on)"),
        click.option("--poll-interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
                     help="seconds between looks at the run"),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _target(chosen: str | None, start: Path) -> str:
    name = chosen or find_config(start).settings.get("target")
    if name not in TARGETS:
        shown = f"{name!r}" if name else "none given"
        raise click.UsageError(f"stepc submit runs on --target {' or '.join(TARGETS)} ({shown})")
    return str(name)


def _run(work: Callable[[], int]) -> None:
    """Run the work and exit with its code; a SubmitError is one line on stderr."""
    from stepc.submit import SubmitError

    try:
        code = work()
    except SubmitError as exc:
        click.echo(f"error: {exc}", err=True)
        code = exc.code
    sys.exit(code)


@click.command()
@click.argument("flow", type=click.Path(dir_okay=False, exists=True))
@click.option("--target", "-t", "target_name", help="the engine: airflow (default: [tool.stepc] target)")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="a pipeline parameter")
@click.option("--pipeline", help="which pipeline of the file")
@click.option("--dags-folder", help="Airflow's dags folder (default: [tool.stepc.airflow] dags_folder)")
@click.option("--no-wait", is_flag=True, help="print the run id at once instead of following the run")
@click.option("--parse-timeout", type=click.FloatRange(min=0), default=180.0, show_default=True,
              help="seconds to wait for the DAG processor to parse the file")  # fmt: skip
@_connection_options
def submit(
    flow: str,
    target_name: str | None,
    params: tuple[str, ...],
    pipeline: str | None,
    dags_folder: str | None,
    no_wait: bool,
    parse_timeout: float,
    url: str | None,
    user: str | None,
    password: str | None,
    token: str | None,
    request_timeout: float,
    run_timeout: float,
    poll_interval: float,
) -> None:
    """Deploy FLOW to a running Airflow 3 and run it: write the DAG file into the dags folder,
    wait until Airflow has parsed it, unpause it, trigger a run with the parameters, and follow
    the run to its end. Exit 0 when the run succeeded, 1 when it failed."""
    _target(target_name, Path(flow).parent)
    from stepc.params import ParamError, split_assignments
    from stepc.submit.airflow import Connection, Waits, make_output
    from stepc.submit.airflow import submit as submit_flow
    from stepc.submit.client import Credentials

    try:
        texts = split_assignments(params)
    except ParamError as exc:
        raise click.UsageError(str(exc)) from None
    connection = Connection(url, Credentials(user, password, token), request_timeout)
    waits = Waits(parse=parse_timeout, run=run_timeout, poll=poll_interval)

    _run(lambda: submit_flow(flow, pipeline, texts, dags_folder, connection, waits, make_output(), wait=not no_wait))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--target", "-t", "target_name", help="the engine: airflow (default: [tool.stepc] target)")
@click.option("--dag", "dag_id", help="the DAG of the run (default: the one DAG that has a run of that id)")
@click.option("--wait", is_flag=True, help="follow the run until it ends")
@_connection_options
def status(
    run_id: str,
    target_name: str | None,
    dag_id: str | None,
    wait: bool,
    url: str | None,
    user: str | None,
    password: str | None,
    token: str | None,
    request_timeout: float,
    run_timeout: float,
    poll_interval: float,
) -> None:
    """Show RUN on Airflow: its tasks and their states. Exit 1 when the run failed, else 0."""
    _target(target_name, Path.cwd())
    from stepc.submit.airflow import Connection, Waits, make_output
    from stepc.submit.airflow import status as run_status
    from stepc.submit.client import Credentials

    connection = Connection(url, Credentials(user, password, token), request_timeout)
    waits = Waits(run=run_timeout, poll=poll_interval)
    _run(lambda: run_status(run_id, dag_id, connection, waits, make_output(), wait))
