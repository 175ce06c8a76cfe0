"""Showing a run: a rich progress display on a terminal, plain lines otherwise, or nothing.

The overall bar advances by each step's ``weight`` (a foreach step by ``weight / items`` per
item); the summary table at the end lists step, status, attempts, duration and cache hits.
The runner calls these methods from its single loop; nothing here starts a thread.
"""

from __future__ import annotations

import time
from typing import IO, Protocol

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from stepc.interpreter.result import RunResult, StepResult
from stepc.ir import Pipeline
from stepc.items import Item, item_text

STYLES = {"succeeded": "green", "failed": "bold red", "skipped": "dim", "not_run": "dim", "cached": "cyan"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def summary_table(result: RunResult, pipeline: Pipeline) -> Table:
    table = Table(title=f"{result.pipeline}  run {result.run_id}: {result.status}", title_justify="left")
    for column in ("step", "status", "attempts", "duration", "cached"):
        table.add_column(column, justify="right" if column in ("attempts", "duration") else "left")
    for step in pipeline.steps:
        r = result.steps[step.name]
        name = step.name if r.items is None else f"{step.name} [{r.items} items]"
        status = f"[{STYLES.get(r.status, '')}]{r.status}[/]"
        table.add_row(
            name,
            status,
            "0" if r.cached else str(r.attempts or "-"),
            fmt_duration(r.duration),
            "yes" if r.cached else "",
        )
    return table


class Reporter(Protocol):
    """Receives the run's events; the progress display and the plain log implement it."""

    tick: float | None  # seconds between refreshes while waiting, None when not needed
    streams: bool  # whether it shows what steps print (the runner then follows their logs)
    shows_progress: bool  # whether it shows what steps say of their progress (`current.progress`)

    def run_started(self, run_id: str, pipeline: Pipeline) -> None: ...
    def step_started(self, step: str, items: int | None) -> None: ...
    def task_done(self, step: str, item: Item, status: str) -> None: ...
    def step_done(self, result: StepResult) -> None: ...
    def retrying(self, step: str, item: Item, attempt: int, error: str, delay: float) -> None: ...
    def rollback(self, step: str, item: Item, status: str) -> None: ...
    def refresh(self) -> None: ...
    def output(self, text: str) -> None: ...
    def task_progress(self, step: str, fraction: float) -> None: ...
    def task_failed(self, where: str, trace: str, hint: str) -> None: ...
    def run_done(self, result: RunResult) -> None: ...
    def stopped(self) -> None: ...


class QuietReporter:
    """Says nothing; ``stepc run --quiet`` and the Python API by default."""

    tick: float | None = None
    streams = False
    shows_progress = False

    def run_started(self, run_id: str, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def step_started(self, step: str, items: int | None) -> None:
        pass

    def task_done(self, step: str, item: Item, status: str) -> None:
        pass

    def step_done(self, result: StepResult) -> None:
        pass

    def retrying(self, step: str, item: Item, attempt: int, error: str, delay: float) -> None:
        pass

    def rollback(self, step: str, item: Item, status: str) -> None:
        pass

    def refresh(self) -> None:
        pass

    def output(self, text: str) -> None:
        """Lines a step printed, each already marked ``[step]`` or ``[step/item]``."""

    def task_progress(self, step: str, fraction: float) -> None:
        """How far a running step (not a foreach item) says it is, 0 to 1."""

    def task_failed(self, where: str, trace: str, hint: str) -> None:
        """A task failed for good: the user's traceback (its own frames) and where its log is."""

    def run_done(self, result: RunResult) -> None:
        pass

    def stopped(self) -> None:
        """The run stopped early on a store problem, which the caller says: tidy the display."""


def _choices(result: StepResult) -> str:
    """What a class-dialect step decided at run time: the switch case taken, a caught exception."""
    notes = []
    for task in result.results:
        where = "" if task.item is None else f"[{item_text(task.item)}] "
        if task.switch is not None and task.next:
            notes.append(f"{where}switch '{task.switch}' -> {', '.join(task.next)}")
        if task.caught is not None:
            notes.append(f"{where}@catch: {task.caught}")
    return f" ({'; '.join(notes)})" if notes else ""


class PlainReporter(QuietReporter):
    """One line per event, for logs and pipes (stdout is not a terminal)."""

    streams = True
    tick: float | None = 0.1  # how often the runner reads the running steps' logs

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.console = Console(file=stream, highlight=False, soft_wrap=False, width=100)

    def _say(self, text: str) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {text}\n")
        self.stream.flush()

    def run_started(self, run_id: str, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._say(f"run {run_id} of {pipeline.name} started")

    def step_started(self, step: str, items: int | None) -> None:
        self._say(f"{step}: started" + ("" if items is None else f" ({items} items)"))

    def step_done(self, result: StepResult) -> None:
        extra = " (cached)" if result.cached else ""
        error = f": {result.error}" if result.error else ""
        self._say(f"{result.name}: {result.status}{extra} in {fmt_duration(result.duration)}{error}{_choices(result)}")

    def retrying(self, step: str, item: Item, attempt: int, error: str, delay: float) -> None:
        where = step if item is None else f"{step}[{item_text(item)}]"
        self._say(f"{where}: attempt {attempt} failed ({error}); retrying in {delay:g}s")

    def rollback(self, step: str, item: Item, status: str) -> None:
        where = step if item is None else f"{step}[{item_text(item)}]"
        self._say(f"{where}: rollback {status}")

    def output(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def task_failed(self, where: str, trace: str, hint: str) -> None:
        self.stream.write(f"{where} failed:\n{trace}{hint}\n")
        self.stream.flush()

    def run_done(self, result: RunResult) -> None:
        self.console.print(summary_table(result, self.pipeline))
        self._say(f"run {result.run_id} {result.status}" + (f": {result.error}" if result.error else ""))


class RichReporter(QuietReporter):
    """A live display: the run's weighted bar plus one row per running step; what steps print
    scrolls above it."""

    tick: float | None = 0.1
    streams = True
    shows_progress = True

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.live = Live(self.progress, console=console, auto_refresh=False, transient=True)
        self.rows: dict[str, TaskID] = {}
        self.weights: dict[str, float] = {}
        self.items: dict[str, int | None] = {}
        self.credited: dict[str, float] = {}  # how much of each step's weight the bar shows
        self.last = 0.0

    def run_started(self, run_id: str, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.weights = {s.name: s.weight for s in pipeline.steps}
        self.overall = self.progress.add_task(f"[bold]{pipeline.name}[/] {run_id}", total=sum(self.weights.values()))
        self.live.start()
        self.live.refresh()

    def step_started(self, step: str, items: int | None) -> None:
        self.items[step] = items
        if step not in self.rows:  # a group member handed back after a failure starts again
            self.rows[step] = self.progress.add_task(f"  {step}", total=items or 1)

    def task_done(self, step: str, item: Item, status: str) -> None:
        if item is not None and step in self.rows:
            self.progress.advance(self.rows[step])
            self._advance(step, self.weights[step] / max(1, self.items.get(step) or 1))

    def task_progress(self, step: str, fraction: float) -> None:
        row = self.rows.get(step)
        if row is not None and self.items.get(step) is None:
            self.progress.update(row, completed=fraction)
            gained = self.weights[step] * fraction - self.credited.get(step, 0.0)
            if gained > 0:
                self._advance(step, gained)

    def _advance(self, step: str, amount: float) -> None:
        amount = min(amount, self.weights[step] - self.credited.get(step, 0.0))
        self.credited[step] = self.credited.get(step, 0.0) + amount
        self.progress.advance(self.overall, amount)

    def step_done(self, result: StepResult) -> None:
        row = self.rows.pop(result.name, None)
        if row is not None:
            self.progress.remove_task(row)
        self._advance(result.name, self.weights[result.name])  # whatever share is left
        if result.status != "succeeded" or result.cached:
            mark = "cached" if result.status == "succeeded" else result.status
            note = f" ({result.error})" if result.error else ""
            self.console.print(f"  {result.name}: [{STYLES.get(mark, '')}]{mark}[/]{note}")
        self.refresh()

    def retrying(self, step: str, item: Item, attempt: int, error: str, delay: float) -> None:
        where = step if item is None else f"{step}[{item_text(item)}]"
        self.console.print(f"  [yellow]{where}: attempt {attempt} failed ({error}); retrying in {delay:g}s[/]")

    def rollback(self, step: str, item: Item, status: str) -> None:
        where = step if item is None else f"{step}[{item_text(item)}]"
        self.console.print(f"  rollback {where}: [{STYLES.get(status, '')}]{status}[/]")

    def output(self, text: str) -> None:
        # Rendering every line through rich costs more than the step printing it: erase the live
        # display, write the lines as they are, and draw the display again below them.
        render = getattr(self.live, "_live_render", None)
        if render is None or not hasattr(render, "_shape") or not self.live.is_started:
            self.console.print(text, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
            return
        self.console.control(render.position_cursor())
        self.console.file.write(text)
        render._shape = None  # the display now starts below the lines: nothing to move up over
        self.live.refresh()

    def task_failed(self, where: str, trace: str, hint: str) -> None:
        self.console.print(f"[bold red]{where} failed:[/]")
        self.console.print(trace, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
        self.console.print(hint, markup=False, highlight=False, style="dim")

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self.last >= 0.1:
            self.last = now
            self.live.refresh()

    def stopped(self) -> None:
        self.live.stop()

    def run_done(self, result: RunResult) -> None:
        self.live.stop()
        self.console.print(summary_table(result, self.pipeline))
        if result.error:
            self.console.print(f"[bold red]error:[/] {result.error}")
