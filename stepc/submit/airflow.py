"""``stepc submit`` and ``stepc status`` for Airflow 3: the steps in order, each in its room.

submit: compile -> check the parameters -> log in -> write the DAG file -> wait for the parse ->
unpause -> trigger -> follow -> summary. Everything that can be checked locally is checked before
Airflow is contacted, and nothing is written before the login has worked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stepc.config import Config
from stepc.diagnostics import is_error, render
from stepc.params import ParamError, resolve
from stepc.submit import SubmitError
from stepc.submit.client import DEFAULT_URL, Airflow, Credentials

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Connection:
    """Where Airflow is and how to log in; ``url=None`` takes ``[tool.stepc.airflow] url``."""

    url: str | None
    credentials: Credentials
    request_timeout: float

    def open(self, config: Config) -> Airflow:
        url = self.url or str(config.section("airflow").get("url") or DEFAULT_URL)
        client = Airflow(url, self.request_timeout)
        client.login(self.credentials)
        return client


@dataclass(frozen=True)
class Waits:
    """Every bound on waiting, in seconds."""

    parse: float = 180.0
    run: float = 3600.0
    poll: float = 2.0


@dataclass(frozen=True)
class Output:
    """Where things are printed: the live view and summary on ``out`` (stdout), progress and
    diagnostics on ``err``; ``live`` when ``out`` is a terminal."""

    out: Console
    err: Console
    live: bool

    def note(self, text: str, end: str = "\n") -> None:
        """A progress line or diagnostics on stderr, as they are: no markup, never re-wrapped."""
        self.err.print(text, end=end, markup=False, highlight=False, soft_wrap=True)


def dags_folder(option: str | None, config: Config) -> Path:
    """``--dags-folder``, else ``[tool.stepc.airflow] dags_folder`` (relative to the project)."""
    if option:
        return Path(option).expanduser()
    configured = config.section("airflow").get("dags_folder")
    if not configured:
        raise SubmitError(
            "where is the dags folder? pass --dags-folder or set [tool.stepc.airflow] dags_folder", code=2
        )
    path = Path(str(configured)).expanduser()
    return path if path.is_absolute() or config.root is None else config.root / path


def submit(
    flow: str,
    pipeline_name: str | None,
    texts: dict[str, str],
    folder_option: str | None,
    connection: Connection,
    waits: Waits,
    output: Output,
    wait: bool = True,
) -> int:
    """Deploy, trigger and (unless ``wait`` is False) follow one run; the exit code."""
    from stepc.config import find_config
    from stepc.submit.deploy import compile_dag, error_marks, wait_parsed, write_dag

    config = find_config(Path(flow).parent)
    dag, diagnostics = compile_dag(flow, pipeline_name, config)
    if diagnostics:
        output.note(render(diagnostics, "text"), end="")
    if dag is None or is_error(diagnostics):
        return 1
    try:
        conf = resolve(dag.pipeline.params, None, texts)
    except ParamError as exc:
        raise SubmitError(str(exc), code=2) from None
    folder = dags_folder(folder_option, config)
    if not config.section("airflow").get("project_root"):
        output.note(
            "warning: [tool.stepc.airflow] project_root is not set, so tasks look for the flow in the worker's "
            "working directory; set it to where this project lives on the Airflow workers"
        )
    client = connection.open(config)
    old_errors = error_marks(client, dag.file_name)
    path = write_dag(folder, dag)
    output.note(f"wrote {path}; waiting for Airflow to parse it")
    known, problems = wait_parsed(client, dag, path, old_errors, waits.parse, min(waits.poll, 1.0))
    if problems or known is None:
        output.note(render(problems, "text"), end="")
        return 1
    if known.is_paused:
        client.unpause(dag.dag_id)
    run = client.trigger(dag.dag_id, conf)
    output.note(f"triggered run {run.dag_run_id} of DAG {dag.dag_id}")
    if not wait:
        output.out.print(run.dag_run_id, markup=False, highlight=False, soft_wrap=True)
        return 0
    return _follow(client, dag.dag_id, run.dag_run_id, waits, output)


def status(run_id: str, dag_id: str | None, connection: Connection, waits: Waits, output: Output, wait: bool) -> int:
    """Show one run (following it to its end with ``wait``); 1 when it failed, else 0."""
    from stepc.config import find_config
    from stepc.submit.follow import snapshot, summary

    client = connection.open(find_config(Path.cwd()))
    if dag_id is None:
        dag_id = _dag_of(client, run_id)
    if wait:
        return _follow(client, dag_id, run_id, waits, output)
    snap = snapshot(client, dag_id, run_id)
    summary(snap, client.url, output.out, with_table=True)
    return 1 if snap.state == "failed" else 0


def _dag_of(client: Airflow, run_id: str) -> str:
    found = sorted({run.dag_id for run in client.runs_named(run_id)})
    if not found:
        raise SubmitError(f"Airflow at {client.url} has no run {run_id!r} (of any DAG this user can see)")
    if len(found) > 1:
        raise SubmitError(f"run {run_id!r} exists in several DAGs ({', '.join(found)}): choose one with --dag", code=2)
    return found[0]


def _follow(client: Airflow, dag_id: str, run_id: str, waits: Waits, output: Output) -> int:
    from stepc.submit.follow import follow, summary

    try:
        snap = follow(client, dag_id, run_id, output.out, waits.run, waits.poll, output.live)
    except KeyboardInterrupt:
        output.note(
            f"stopped following; run {run_id} goes on in Airflow: stepc status --target airflow {run_id} --dag {dag_id}"
        )
        return 130
    summary(snap, client.url, output.out, with_table=True)
    return 0 if snap.state == "success" else 1


def make_output() -> Output:
    """Consoles for the command: rich on a terminal, plain wide text elsewhere."""
    from stepc.submit.follow import console_for

    return Output(console_for(sys.stdout), console_for(sys.stderr), live=sys.stdout.isatty())
