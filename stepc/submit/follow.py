"""Following an Airflow run: a live per-task table (rich) on a terminal, one line per change of a
task's state otherwise, and a summary at the end. Polling is bounded by a timeout.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stepc.submit import SubmitError

if TYPE_CHECKING:
    import airflow_client.client as af
    from rich.console import Console

    from stepc.submit.client import Airflow

FINISHED = frozenset({"success", "failed"})
STYLE = {
    "success": "green",
    "failed": "red",
    "upstream_failed": "red",
    "running": "cyan",
    "queued": "blue",
    "scheduled": "blue",
    "up_for_retry": "yellow",
    "skipped": "dim",
    "removed": "dim",
}


@dataclass(frozen=True)
class TaskRow:
    """One task instance as shown: ``task`` or ``task[3]`` for an item of a mapped task."""

    name: str
    state: str
    attempt: int
    seconds: float | None

    @staticmethod
    def of(ti: af.TaskInstanceResponse) -> TaskRow:
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        state = ti.state.value if ti.state is not None else "none"
        return TaskRow(name, state, ti.try_number, ti.duration)


@dataclass(frozen=True)
class Snapshot:
    """A run and its tasks at one poll."""

    run: af.DAGRunResponse
    tasks: list[TaskRow]

    @property
    def state(self) -> str:
        return str(self.run.state.value)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def snapshot(client: Airflow, dag_id: str, run_id: str) -> Snapshot:
    run = client.run(dag_id, run_id)
    if run is None:
        raise SubmitError(f"Airflow at {client.url} has no run {run_id!r} of DAG {dag_id!r}")
    instances = client.task_instances(dag_id, run_id)
    # In the order they started (not yet started last), as the run went; then by name and item.
    instances.sort(key=lambda ti: (ti.start_date is None, ti.start_date or run.run_after, ti.task_id, ti.map_index))
    return Snapshot(run, [TaskRow.of(ti) for ti in instances])


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def table(snap: Snapshot) -> Any:
    """The run as a rich table: one row per task instance."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    grid.add_column("task")
    grid.add_column("state")
    grid.add_column("try", justify="right")
    grid.add_column("time", justify="right")
    for row in snap.tasks:
        style = STYLE.get(row.state, "")
        grid.add_row(Text(row.name), Text(row.state, style=style), str(row.attempt or ""), _duration(row.seconds))
    title = Text(f"{snap.run.dag_id} {snap.run.dag_run_id}: ")
    title.append(snap.state, style=STYLE.get(snap.state, ""))
    return Group(title, grid)


class PlainView:
    """A line whenever a task changes state or attempt: readable in CI logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: dict[str, tuple[str, int]] = {}

    def update(self, snap: Snapshot) -> None:
        for row in snap.tasks:
            key = (row.state, row.attempt)
            if self.seen.get(row.name) != key and row.state != "none":
                stamp = datetime.now().strftime("%H:%M:%S")
                attempt = f" (try {row.attempt})" if row.attempt > 1 else ""
                self.console.print(
                    f"{stamp} {row.name} {row.state}{attempt}", markup=False, highlight=False, soft_wrap=True
                )
                self.seen[row.name] = key


def follow(
    client: Airflow,
    dag_id: str,
    run_id: str,
    console: Console,
    timeout: float,
    poll: float,
    live: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot:
    """Poll the run until it ends; raise :class:`SubmitError` when ``timeout`` runs out first."""
    deadline = time.monotonic() + timeout
    snap = snapshot(client, dag_id, run_id)
    if live:
        from rich.live import Live

        with Live(table(snap), console=console, refresh_per_second=4, transient=True) as view:
            while not snap.finished and time.monotonic() < deadline:
                sleep(poll)
                snap = snapshot(client, dag_id, run_id)
                view.update(table(snap))
    else:
        plain = PlainView(console)
        plain.update(snap)
        while not snap.finished and time.monotonic() < deadline:
            sleep(poll)
            snap = snapshot(client, dag_id, run_id)
            plain.update(snap)
    if not snap.finished:
        stuck = " (a run stays queued while no scheduler runs or the DAG is paused)" if snap.state == "queued" else ""
        raise SubmitError(
            f"run {run_id} of DAG {dag_id} is still {snap.state} after {timeout:g}s{stuck}; "
            f"see it later with `stepc status --target airflow {run_id} --dag {dag_id}`"
        )
    return snap


def summary(snap: Snapshot, url: str, console: Console, with_table: bool) -> None:
    """The end state: the table (when the live view is gone or there was none), counts by
    state, the failed tasks, and where to look in Airflow's UI."""
    run = snap.run
    if with_table:
        console.print(table(snap))
    counts = Counter(row.state for row in snap.tasks)
    spread = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    took = f" in {run.duration:.1f}s" if run.duration is not None else ""
    verdict = {"success": "succeeded", "failed": "failed"}.get(snap.state, snap.state)
    console.print(
        f"run {run.dag_run_id} of {run.dag_id} {verdict}{took} ({spread or 'no tasks'})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    failed = [row.name for row in snap.tasks if row.state in ("failed", "upstream_failed")]
    if failed:
        console.print(f"failed: {', '.join(failed)}", markup=False, highlight=False, soft_wrap=True)
    link = f"{url.rstrip('/')}/dags/{quote(run.dag_id, safe='')}/runs/{quote(run.dag_run_id, safe='')}"
    console.print(link, markup=False, highlight=False, soft_wrap=True)


def console_for(stream: Any = None) -> Console:
    """stdout's console: live on a terminal, wide plain text in a pipe or file."""
    from rich.console import Console

    out = stream or sys.stdout
    return Console(file=out) if out.isatty() else Console(file=out, width=160, no_color=True)
