"""The runner loop: decide what can run, fork it, collect results, retry, fail, roll back.

A single-threaded event loop over the IR. Each task (a step, one foreach item, or a run of
consecutive steps of one ``group``) runs in a child forked from this process, through
:func:`stepc.runtime.exec.execute` like every backend. Children write files; this process alone
writes the run database.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import os
import signal
import socket
import sqlite3
import time
from collections import defaultdict, deque
from dataclasses import dataclass, replace
from typing import Any

from stepc.config import DEFAULT_KILL_GRACE
from stepc.fanout import fanout_bounds
from stepc.interpreter import cache
from stepc.interpreter.child import group_body, task_body
from stepc.interpreter.follow import LogFollower
from stepc.interpreter.progress import Reporter
from stepc.interpreter.result import RunResult
from stepc.interpreter.rollback import run_rollbacks
from stepc.interpreter.rundb import RunDB
from stepc.interpreter.state import StepState
from stepc.ir import Pipeline, Step
from stepc.items import Item, item_text
from stepc.params import read_included
from stepc.runtime.context import read_task_json
from stepc.runtime.exec import last_traceback, load_module
from stepc.runtime.faults import StoreError
from stepc.runtime.plan import (
    MissingInput,
    Task,
    item_paths,
    loops_again,
    make_task,
    pass_location,
    rollback_order,
    should_skip,
    skip_is_per_item,
)
from stepc.runtime.processes import Child, Pool, Terminated, describe_exit, on_sigterm_interrupt
from stepc.runtime.store import Store, TaskResult, warn


@dataclass(frozen=True)
class Launch:
    """What a child was started for: steps (several for a group) of one item."""

    steps: tuple[str, ...]
    item: Item
    task: Task
    key: str | None


class Runner:
    """Runs one pipeline run (new or resumed) to the end."""

    def __init__(
        self,
        pipeline: Pipeline,
        flow_path: str,
        run_id: str,
        params: dict[str, Any],
        store: Store,
        db: RunDB,
        workers: int,
        reporter: Reporter,
        resume: bool = False,
        cache_use: cache.CacheUse = cache.CacheUse(),  # noqa: B008 - frozen, so one shared default is safe
        again: frozenset[str] = frozenset(),  # steps a resume runs again although they succeeded
        grace: float = DEFAULT_KILL_GRACE,  # seconds between a stopped attempt's SIGTERM and SIGKILL
    ) -> None:
        self.pipeline = pipeline
        self.flow_path = flow_path
        self.run_id = run_id
        # The run records the paths of file parameters; its steps see the files' content.
        self.recorded_params = params
        self.params = read_included(pipeline.params, params)
        self.store = store
        self.db = db
        # pipeline(max_parallel=) bounds the run's tasks at once, as --workers does.
        self.workers = max(1, min(workers, pipeline.max_parallel or workers))
        # Per step: the foreach scopes around it that bound their items (depth, head, bound).
        self.bounds = {s.name: fanout_bounds(pipeline, s) for s in pipeline.steps}
        self.reporter = reporter
        self.resume = resume
        self.cache_use = cache_use
        self.again = again
        self.states = {s.name: StepState(s) for s in pipeline.steps}
        self.order = {s.name: i for i, s in enumerate(pipeline.steps)}
        self.ready: deque[tuple[str, Item]] = deque()
        self.delayed: list[tuple[float, int, str, Item]] = []
        self.pool = Pool(grace)
        # What steps print is shown as it comes, when the reporter shows it at all.
        self.follower = LogFollower() if reporter.streams else None
        self.failing = False
        self.error: str | None = None
        self.preloaded: dict[tuple[str, Item], TaskResult] = {}
        self._seq = 0

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> RunResult:
        self.db.start_run(
            self.run_id,
            self.pipeline.name,
            self.flow_path,
            self.recorded_params,
            os.getpid(),
            socket.gethostname(),
            self.workers,
        )
        self.store.write_run(
            self.run_id,
            {
                "flow": self.flow_path,
                "pipeline": self.pipeline.name,
                "params": self.recorded_params,
                "run_id": self.run_id,
            },
        )
        if self.resume:
            self._preload()
        # Warm up: the children inherit the import. If it fails, each child fails the same way
        # and reports it, with the traceback in its log.
        with contextlib.suppress(BaseException):
            packages = {step.function.partition(":")[0].partition(".")[0] for step in self.pipeline.steps}
            load_module(self.flow_path, self.pipeline.module, fresh=True, packages=packages)
        self.reporter.run_started(self.run_id, self.pipeline)
        interrupted: int | None = None  # the signal that stopped the run
        # Objects that exist now are never collected in the children: freezing them keeps a
        # child's garbage collector from touching (and so copying) the runner's whole heap.
        gc.collect()
        gc.freeze()
        previous = on_sigterm_interrupt()
        try:
            for step in self.pipeline.steps:
                self._activate(step.name)
            self._loop()
        except KeyboardInterrupt as stop:
            interrupted = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
            self.failing = True
            self.error = self.error or "interrupted"
            self._kill_all()
        except StoreError as problem:
            # The store cannot take more (a full disk): stop, keep what is committed for a
            # resume (no rollback: nothing failed on its own), and say so in one line.
            self._kill_all()
            self.reporter.stopped()
            with contextlib.suppress(StoreError, sqlite3.Error):
                self.db.finish_run(self.run_id, "failed", str(problem))
            raise
        finally:
            gc.unfreeze()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return self._finish(interrupted)

    def _kill_all(self) -> None:
        """Kill the running children, and remove the temporary files a kill cut short (see
        :func:`stepc.runtime.files.atomic_write`): a task runs one attempt at a time, so every
        temporary file in a stopped task's folder is that attempt's."""
        running = [child.payload for child in self.pool.children.values()]
        self.pool.kill_all()
        for launch in running:
            for name in launch.steps:
                task_dir = self.store.task_dir(self.run_id, self._location(name, launch.item), launch.item)
                for leftover in task_dir.glob(".*.tmp"):
                    leftover.unlink(missing_ok=True)

    def _loop(self) -> None:
        while True:
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, name, item = heapq.heappop(self.delayed)
                self.ready.append((name, item))
            if not self.failing:
                self._start_ready()
            if not self.pool:
                if self.failing or (not self.ready and not self.delayed):
                    return
                if not self.ready:
                    time.sleep(max(0.0, self.delayed[0][0] - time.monotonic()))
                continue
            timeout = self.reporter.tick
            if self.delayed and len(self.pool) < self.workers:
                due = max(0.0, self.delayed[0][0] - time.monotonic())
                timeout = due if timeout is None else min(timeout, due)
            for child, code in self.pool.wait(timeout):
                self._collect(child, code)
            if self.follower is not None:
                self._show(self.follower.poll())
            if self.reporter.shows_progress:
                self._progress()
            self.reporter.refresh()

    # --- deciding what runs --------------------------------------------------------------

    def _start_ready(self) -> None:
        """Start ready tasks while workers are free. A task whose fan-out already runs its
        ``max_parallel`` other items waits, keeping its place, while later ones may start."""
        if not self.ready or len(self.pool) >= self.workers:
            return
        active = self._active_items()
        held: list[tuple[str, Item]] = []
        while self.ready and len(self.pool) < self.workers:
            name, item = self.ready.popleft()
            paths = [(head, limit, item[: depth + 1]) for depth, head, limit in self.bounds[name] if item]
            if any(path not in active[head] and len(active[head]) >= limit for head, limit, path in paths):
                held.append((name, item))
                continue
            for head, _, path in paths:
                active[head].add(path)
            self._start(name, item)
        self.ready.extendleft(reversed(held))

    def _active_items(self) -> defaultdict[str, set[tuple[int, ...]]]:
        """Per bounded scope head: the items of its fan-out that have a task running now."""
        active: defaultdict[str, set[tuple[int, ...]]] = defaultdict(set)
        for child in self.pool.children.values():
            launch: Launch = child.payload
            if launch.item:
                for depth, head, _ in self.bounds[launch.steps[0]]:
                    active[head].add(launch.item[: depth + 1])
        return active

    def lookup(self, step: str, item: Item) -> TaskResult | None:
        state = self.states[step]
        result = state.results.get(item)
        if result is None and state.status == "skipped":
            return state.results.get(None)  # skipped as a whole: one result, at the step
        return result

    def _activate(self, name: str) -> None:
        """Start a step whose upstream steps have all finished (or skip it)."""
        state = self.states[name]
        if state.status != "pending":
            return
        if any(self.states[u].status not in ("succeeded", "skipped") for u in self.pipeline.upstream(name)):
            return
        step = state.step
        state.status = "active"
        state.started = time.time()
        try:
            if should_skip(self.pipeline, step, None, self.params, self.store, self.lookup):
                skipped = TaskResult("skipped", name, None, 0, state.started, state.started)
                self.store.commit(self.run_id, skipped)
                state.results[None] = skipped
                self._step_done(state, "skipped")
                return
            items: list[Item] = [None]
            if step.scope:
                items = item_paths(self.pipeline, step, self.params, self.lookup)
                state.count = len(items)
                if skip_is_per_item(self.pipeline, step):
                    items = [item for item in items if not self._skip_item(state, item)]
        except (MissingInput, KeyError, TypeError, ValueError) as exc:
            state.error = f"cannot start: {exc}"
            self._step_done(state, "failed")
            self._fail(f"step '{name}' {state.error}")
            return
        self.db.set_step(self.run_id, name, status="running", started=state.started, items=state.count)
        self.reporter.step_started(name, state.count)
        todo = []
        for item in items:
            done = self.preloaded.get((name, item))
            if done is not None:
                state.results[item] = done
                state.attempts[item] = done.attempt
            else:
                todo.append(item)
        state.remaining = len(todo)
        if not todo:
            every_item_skipped = bool(state.results) and all(r.status == "skipped" for r in state.results.values())
            self._step_done(state, "skipped" if every_item_skipped else "succeeded")
            return
        self.ready.extend((name, item) for item in todo)

    def _skip_item(self, state: StepState, item: Item) -> bool:
        """Skip one task of a step inside a foreach whose items go different ways (a switch)."""
        if not should_skip(self.pipeline, state.step, item, self.params, self.store, self.lookup):
            return False
        skipped = TaskResult("skipped", state.step.name, item, 0, time.time(), time.time())
        self.store.commit(self.run_id, skipped)
        state.results[item] = skipped
        return True

    def _group_batch(self, first: Step) -> list[Step]:
        """``first`` and the consecutive steps of its group that can follow it in one process.

        A member joins when everything it waits for is done or earlier in the batch, it runs
        (no skip), is not a foreach step and is not cached (its key would need inputs the
        batch has not made yet); otherwise the batch stops and the rest run later on their own.
        """
        batch = [first]
        names = {first.name}
        for step in self.pipeline.steps[self.order[first.name] + 1 :]:
            state = self.states[step.name]
            if step.group != first.group or state.status != "pending" or (step.name, None) in self.preloaded:
                break
            if step.foreach is not None or step.cache != "none" or step.condition is not None:
                break
            waits = self.pipeline.upstream(step.name)
            if not all(u in names or self.states[u].status == "succeeded" for u in waits):
                break
            batch.append(step)
            names.add(step.name)
        return batch

    def _start(self, name: str, item: Item) -> None:
        state = self.states[name]
        step = state.step
        attempt = self._next_attempt(state, item)
        state.tries[item] = state.tries.get(item, 0) + 1
        # The retry budget counts this runner's tries (a resumed run numbers attempts on), so
        # whether this is the last try (when @catch acts) comes from the tries too.
        final = state.tries[item] > step.retry.times
        iteration = state.passes.get(item, 0)
        previous = state.results.get(item) if iteration else None
        try:
            task = make_task(
                self.pipeline, step, item, attempt, self.run_id, self.params, self.lookup, final, previous, iteration
            )
        except (MissingInput, KeyError) as exc:
            state.error = f"cannot start: {exc}"
            self._step_done(state, "failed")
            self._fail(f"step '{name}' {state.error}")
            return
        key = cache.cache_key(step, task)
        if key is not None and self.cache_use.allows(step.name):
            hit = cache.restore(self.db, self.store, key, task)
            if hit is not None:
                self._succeeded(state, hit, task, key)
                return
        batch = self._group_batch(step) if step.group is not None and item is None else [step]
        for member in batch[1:]:
            member_state = self.states[member.name]
            member_state.status = "active"
            member_state.started = time.time()
            member_state.remaining = 1
            self._next_attempt(member_state, None)
            member_state.tries[None] = member_state.tries.get(None, 0) + 1
            self.db.set_step(self.run_id, member.name, status="running", started=member_state.started)
            self.reporter.step_started(member.name, None)
        launch = Launch(tuple(s.name for s in batch), item, task, key)
        if self.follower is not None:
            for member in batch:
                number = self.states[member.name].attempts[item]
                where = member.name if item is None else f"{member.name}/{item_text(item)}"
                self.follower.follow(
                    self.store.log_path(self.run_id, self._location(member.name, item), item, number), where
                )
        if len(batch) == 1:
            self.pool.start(task_body(task, self.store, self.flow_path, self.pipeline.module), launch, step.timeout)
            return
        attempts = {member.name: self.states[member.name].attempts[None] for member in batch}
        body = group_body(self.pipeline, batch, task, attempts, self.params, self.lookup, self.store, self.flow_path)
        self.pool.start(body, launch, None)  # each member tells the supervisor its own time limit

    def _location(self, name: str, item: Item) -> str:
        """The store folder of the step's current task for ``item`` (a recursive switch's pass)."""
        return pass_location(name, self.states[name].passes.get(item, 0))

    def _next_attempt(self, state: StepState, item: Item) -> int:
        last = state.attempts.get(item)
        if last is None and self.resume:
            last = max(self.store.attempt_numbers(self.run_id, state.step.name, item), default=0)
        state.attempts[item] = (last or 0) + 1
        return state.attempts[item]

    # --- collecting results --------------------------------------------------------------

    def _progress(self) -> None:
        """What the running single tasks said of their progress (``current.progress``)."""
        for child in self.pool.children.values():
            launch: Launch = child.payload
            if launch.item is None:
                for name in launch.steps:
                    said = read_task_json(self.store, self.run_id, name, None, "progress.json")
                    if said.get("total"):
                        self.reporter.task_progress(name, min(1.0, max(0.0, said["done"] / said["total"])))

    def _show(self, text: str) -> None:
        if text:
            self.reporter.output(text)

    def _collect(self, child: Child, code: int) -> None:
        launch: Launch = child.payload
        problem = child.store_error(code)
        if problem is not None:
            raise problem
        if self.follower is not None:
            for name in launch.steps:
                attempt = self.states[name].attempts[launch.item]
                path = self.store.log_path(self.run_id, self._location(name, launch.item), launch.item, attempt)
                self._show(self.follower.close(path))
        for index, name in enumerate(launch.steps):
            state = self.states[name]
            attempt = state.attempts[launch.item]
            result = self.store.read_attempt(self.run_id, self._location(name, launch.item), launch.item, attempt)
            if result is not None and result.status == "succeeded":
                task = launch.task
                if index:
                    task = make_task(self.pipeline, state.step, None, attempt, self.run_id, self.params, self.lookup)
                self._succeeded(state, result, task, launch.key if index == 0 else None)
                continue
            timed_out = child.timed_out
            first = launch.task if index == 0 else None
            self._failed(state, launch.item, attempt, code, result, timed_out, first, child.wall_started)
            for rest in launch.steps[index + 1 :]:  # never started: back to waiting
                rest_state = self.states[rest]
                rest_state.status = "pending"
                rest_state.attempts[None] -= 1
                rest_state.tries[None] -= 1
            return

    def _succeeded(self, state: StepState, result: TaskResult, task: Task, key: str | None) -> None:
        item = result.item
        # A recursive switch's pass is stored under its own folder; the run knows it as the step.
        state.results[item] = replace(result, step=state.step.name) if result.step != state.step.name else result
        state.ran = state.ran or not result.cached
        self._record(state.step, result, task, "succeeded", key)
        if key is not None and not result.cached:
            cache.remember(self.db, key, self.run_id, result)
        if loops_again(state.step, result):  # a recursive switch: its next pass, from this one
            state.passes[item] = state.passes.get(item, 0) + 1
            state.tries[item] = 0
            self.ready.append((state.step.name, item))
            return
        self.reporter.task_done(state.step.name, item, "cached" if result.cached else "succeeded")
        state.remaining -= 1
        if state.remaining == 0:
            self._step_done(state, "succeeded")

    def _failed(
        self,
        state: StepState,
        item: Item,
        attempt: int,
        code: int,
        result: TaskResult | None,
        timed_out: bool,
        task: Task | None,
        started: float,
    ) -> None:
        step = state.step
        error = describe_exit(code, timed_out, step.timeout, result)
        if result is None or timed_out:
            # The child could not say how it ended: say it in its log and status, for `stepc logs`.
            now = time.time()
            log = self.store.log_path(self.run_id, self._location(step.name, item), item, attempt)
            self.store.append_log(log, f"\n[stepc] attempt {attempt} failed: {error}\n")
            started = result.started if result is not None else started
            location = self._location(step.name, item)
            result = TaskResult("failed", location, item, attempt, started, now, error=error, exit_code=code)
            self.store.write_status(self.run_id, result)
        self._record(step, result, task, "timeout" if timed_out else "failed", None, error, code)
        tries = state.tries.get(item, 1)
        if tries <= step.retry.times and not self.failing:
            # Metaflow's local runtime retries a flow class's step at once; engines keep the wait.
            delay = 0.0 if step.kind == "flowspec" else step.retry.wait_before(tries)
            self._seq += 1
            heapq.heappush(self.delayed, (time.monotonic() + delay, self._seq, step.name, item))
            self.reporter.retrying(step.name, item, attempt, error, delay)
            return
        where = step.name if item is None else f"{step.name}[{item_text(item)}]"
        state.error = error
        self._explain(step, item, attempt, where)
        self.reporter.task_done(step.name, item, "failed")
        self._step_done(state, "failed")
        self._fail(f"step '{where}' failed: {error}")

    def _explain(self, step: Step, item: Item, attempt: int, where: str) -> None:
        """The user's traceback of a task that failed for good, and how to see its whole log."""
        log = self.store.log_path(self.run_id, self._location(step.name, item), item, attempt)
        try:
            trace = last_traceback(log.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            trace = ""
        hint = f"see the whole log: stepc logs {self.run_id} {step.name}" + (
            f" --item {item_text(item)}" if item is not None else ""
        )
        self.reporter.task_failed(where, trace, hint)

    def _fail(self, error: str) -> None:
        if not self.failing:
            self.failing = True
            self.error = error

    def _step_done(self, state: StepState, status: str) -> None:
        if state.status in ("succeeded", "failed", "skipped", "not_run"):
            return
        state.status = status
        state.ended = time.time()
        summary = state.summary(self.store)
        self.db.set_step(
            self.run_id,
            state.step.name,
            status=status,
            started=state.started,
            ended=state.ended,
            duration=summary.duration,
            attempts=summary.attempts,
            cached=int(summary.cached),
            items=state.count,
            error=state.error,
        )
        self.reporter.step_done(summary)
        if status in ("succeeded", "skipped"):
            for name in self.pipeline.downstream(state.step.name):
                self._activate(name)

    def _record(
        self,
        step: Step,
        result: TaskResult,
        task: Task | None,
        status: str,
        key: str | None,
        error: str | None = None,
        exit_code: int = 0,
    ) -> None:
        """One attempt row: timing, outcome, cache key and lineage (artifact ids in and out)."""
        self.db.record_attempt(
            self.run_id,
            step.name,
            result.item,
            result.attempt,
            status=status,
            started=result.started,
            ended=result.ended,
            duration=result.ended - result.started,
            exit_code=exit_code,
            cached=int(result.cached),
            cache_key=key,
            code_hash=step.code_hash,
            params=None if task is None else task.params,
            inputs=None if task is None else [m.id for b in task.inputs for m in b.artifacts],
            outputs=[m.id for m in result.outputs],
            error=error,
            log=self.store.relative(self.store.log_path(self.run_id, result.step, result.item, result.attempt)),
        )

    # --- resume, the end, rollbacks ------------------------------------------------------

    def _preload(self) -> None:
        """Results a previous runner of this run committed: those tasks do not run again."""
        for step in self.pipeline.steps:
            if step.name in self.again:
                continue
            for result in self.store.committed(self.run_id, step.name):
                if result.status != "succeeded" or loops_again(step, result):
                    continue  # a recursive switch stopped mid-loop runs again from its first pass
                changed = [m.name for m in result.outputs if not self.store.verify(m)]
                if changed:  # never serve a changed artifact: make it again
                    where = step.name if result.item is None else f"{step.name}[{item_text(result.item)}]"
                    names = ", ".join(map(repr, changed))
                    warn(f"{where}: output {names} changed after it was written: running the task again")
                    continue
                self.preloaded[(step.name, result.item)] = result

    def _finish(self, interrupted: int | None) -> RunResult:
        for state in self.states.values():
            if state.status in ("pending", "active"):
                state.status = "failed" if state.error else "not_run"
                state.ended = time.time() if state.started else None
                self.db.set_step(self.run_id, state.step.name, status=state.status, error=state.error)
        # An interrupted run stays resumable and keeps what it did: no rollback.
        status = "interrupted" if interrupted else "failed" if self.failing else "succeeded"
        rollbacks: list[tuple[str, Item, str]] = []
        if self.failing and not interrupted:
            rollbacks = run_rollbacks(
                rollback_order(self.pipeline, [r for st in self.states.values() for r in st.results.values()]),
                self.run_id,
                self.store,
                self.db,
                self.flow_path,
                self.pipeline.module,
                self.reporter,
                self.pool.grace,
            )
        self.db.finish_run(self.run_id, status, self.error)
        result = RunResult(
            run_id=self.run_id,
            pipeline=self.pipeline.name,
            status=status,
            steps={name: state.summary(self.store) for name, state in self.states.items()},
            store_root=str(self.store.root),
            error=self.error,
            rollbacks=tuple(rollbacks),
            signal=interrupted,
        )
        self.reporter.run_done(result)
        return result
