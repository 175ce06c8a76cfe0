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
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stepc.interpreter import cache
from stepc.interpreter.result import RunResult, StepResult
from stepc.interpreter.rundb import RunDB
from stepc.interpreter.workers import Child, Pool
from stepc.ir import Pipeline, Step
from stepc.runtime.exec import call_rollback, captured, execute, load_module
from stepc.runtime.plan import MissingInput, Task, item_count, make_task, should_skip
from stepc.runtime.store import Store, TaskResult


class Reporter(Protocol):
    """Receives the run's events; the progress display and the plain log implement it."""

    tick: float | None  # seconds between refreshes while waiting, None when not needed

    def run_started(self, run_id: str, pipeline: Pipeline) -> None: ...
    def step_started(self, step: str, items: int | None) -> None: ...
    def task_done(self, step: str, item: int | None, status: str) -> None: ...
    def step_done(self, result: StepResult) -> None: ...
    def retrying(self, step: str, item: int | None, attempt: int, error: str, delay: float) -> None: ...
    def rollback(self, step: str, item: int | None, status: str) -> None: ...
    def refresh(self) -> None: ...
    def run_done(self, result: RunResult) -> None: ...


@dataclass
class StepState:
    """What the runner knows about one step during a run."""

    step: Step
    status: str = "pending"  # pending | active | succeeded | failed | skipped | not_run
    count: int | None = None  # items of a foreach step
    results: dict[int | None, TaskResult] = field(default_factory=dict)
    attempts: dict[int | None, int] = field(default_factory=dict)  # last attempt number used
    tries: dict[int | None, int] = field(default_factory=dict)  # attempts made by this runner
    remaining: int = 0
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    ran: bool = False  # at least one task really ran (not a cache hit)


@dataclass(frozen=True)
class Launch:
    """What a child was started for: steps (several for a group) of one item."""

    steps: tuple[str, ...]
    item: int | None
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
    ) -> None:
        self.pipeline = pipeline
        self.flow_path = flow_path
        self.run_id = run_id
        self.params = params
        self.store = store
        self.db = db
        self.workers = max(1, workers)
        self.reporter = reporter
        self.resume = resume
        self.states = {s.name: StepState(s) for s in pipeline.steps}
        self.order = {s.name: i for i, s in enumerate(pipeline.steps)}
        self.ready: deque[tuple[str, int | None]] = deque()
        self.delayed: list[tuple[float, int, str, int | None]] = []
        self.pool = Pool()
        self.failing = False
        self.error: str | None = None
        self.preloaded: dict[tuple[str, int | None], TaskResult] = {}
        self._seq = 0

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> RunResult:
        self.db.start_run(
            self.run_id,
            self.pipeline.name,
            self.flow_path,
            self.params,
            os.getpid(),
            socket.gethostname(),
            self.workers,
        )
        self.store.write_run(
            self.run_id,
            {"flow": self.flow_path, "pipeline": self.pipeline.name, "params": self.params, "run_id": self.run_id},
        )
        if self.resume:
            self._preload()
        # Warm up: the children inherit the import. If it fails, each child fails the same way
        # and reports it, with the traceback in its log.
        with contextlib.suppress(BaseException):
            load_module(self.flow_path, self.pipeline.module, fresh=True)
        self.reporter.run_started(self.run_id, self.pipeline)
        interrupted = False
        # Objects that exist now are never collected in the children: freezing them keeps a
        # child's garbage collector from touching (and so copying) the runner's whole heap.
        gc.collect()
        gc.freeze()
        try:
            for step in self.pipeline.steps:
                self._activate(step.name)
            self._loop()
        except KeyboardInterrupt:
            interrupted = True
            self.failing = True
            self.error = self.error or "interrupted"
            self.pool.kill_all()
        finally:
            gc.unfreeze()
        return self._finish(interrupted)

    def _loop(self) -> None:
        while True:
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, name, item = heapq.heappop(self.delayed)
                self.ready.append((name, item))
            if not self.failing:
                while self.ready and len(self.pool) < self.workers:
                    name, item = self.ready.popleft()
                    self._start(name, item)
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
            self.reporter.refresh()

    # --- deciding what runs --------------------------------------------------------------

    def lookup(self, step: str, item: int | None) -> TaskResult | None:
        state = self.states[step]
        if state.status == "skipped":
            return state.results.get(None)
        return state.results.get(item)

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
            if should_skip(self.pipeline, step, self.params, self.store, self.lookup):
                skipped = TaskResult("skipped", name, None, 0, state.started, state.started)
                self.store.commit(self.run_id, skipped)
                state.results[None] = skipped
                self._step_done(state, "skipped")
                return
            items: list[int | None] = [None]
            if step.foreach is not None:
                state.count = item_count(self.pipeline, step, self.params, self.lookup)
                items = list(range(state.count))
        except (MissingInput, KeyError, TypeError, ValueError) as exc:
            state.error = f"cannot start: {exc}"
            self._step_done(state, "failed")
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
            self._step_done(state, "succeeded")
            return
        self.ready.extend((name, item) for item in todo)

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

    def _start(self, name: str, item: int | None) -> None:
        state = self.states[name]
        step = state.step
        attempt = self._next_attempt(state, item)
        state.tries[item] = state.tries.get(item, 0) + 1
        try:
            task = make_task(self.pipeline, step, item, attempt, self.run_id, self.params, self.lookup)
        except (MissingInput, KeyError) as exc:
            state.error = f"cannot start: {exc}"
            self._step_done(state, "failed")
            self._fail(state.error)
            return
        key = cache.cache_key(step, task)
        if key is not None:
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
        timeout = step.timeout if len(batch) == 1 else None
        self.pool.start(self._body(launch, batch), launch, timeout)

    def _next_attempt(self, state: StepState, item: int | None) -> int:
        last = state.attempts.get(item)
        if last is None and self.resume:
            last = max(self.store.attempt_numbers(self.run_id, state.step.name, item), default=0)
        state.attempts[item] = (last or 0) + 1
        return state.attempts[item]

    def _body(self, launch: Launch, batch: list[Step]) -> Callable[[], int]:
        """What the child does: run the task (or the group's tasks, back to back)."""
        module = self.pipeline.module

        def body() -> int:
            if len(batch) == 1:
                result = execute(launch.task, self.store, self.flow_path, module)
                return 0 if result.status == "succeeded" else 1
            local: dict[tuple[str, int | None], TaskResult] = {}

            def lookup(step: str, item: int | None) -> TaskResult | None:
                return local.get((step, item)) or self.lookup(step, item)

            for index, step in enumerate(batch):
                task = launch.task
                if index:
                    attempt = self.states[step.name].attempts[None]
                    task = make_task(self.pipeline, step, None, attempt, self.run_id, self.params, lookup)
                if step.timeout:
                    # The kernel ends the process when the step overruns (SIGALRM's default action).
                    signal.setitimer(signal.ITIMER_REAL, float(step.timeout))
                result = execute(task, self.store, self.flow_path, module)
                signal.setitimer(signal.ITIMER_REAL, 0)
                local[(step.name, None)] = result
                if result.status != "succeeded":
                    return 1
            return 0

        return body

    # --- collecting results --------------------------------------------------------------

    def _collect(self, child: Child, code: int) -> None:
        launch: Launch = child.payload
        for index, name in enumerate(launch.steps):
            state = self.states[name]
            attempt = state.attempts[launch.item]
            result = self.store.read_attempt(self.run_id, name, launch.item, attempt)
            if result is not None and result.status == "succeeded":
                task = launch.task
                if index:
                    task = make_task(self.pipeline, state.step, None, attempt, self.run_id, self.params, self.lookup)
                self._succeeded(state, result, task, launch.key if index == 0 else None)
                continue
            timed_out = child.killed_for_timeout or code == -signal.SIGALRM
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
        state.results[item] = result
        state.ran = state.ran or not result.cached
        self.db.record_attempt(
            self.run_id,
            state.step.name,
            item,
            result.attempt,
            status="succeeded",
            started=result.started,
            ended=result.ended,
            duration=result.ended - result.started,
            exit_code=0,
            cached=int(result.cached),
            cache_key=key,
            code_hash=state.step.code_hash,
            params=task.params,
            inputs=[m.id for b in task.inputs for m in b.artifacts],
            outputs=[m.id for m in result.outputs],
            log=self._log(state.step.name, item, result.attempt),
        )
        if key is not None and not result.cached:
            cache.remember(self.db, key, self.run_id, result)
        self.reporter.task_done(state.step.name, item, "cached" if result.cached else "succeeded")
        state.remaining -= 1
        if state.remaining == 0:
            self._step_done(state, "succeeded")

    def _failed(
        self,
        state: StepState,
        item: int | None,
        attempt: int,
        code: int,
        result: TaskResult | None,
        timed_out: bool,
        task: Task | None,
        started: float,
    ) -> None:
        step = state.step
        if timed_out:
            error = f"timed out after {step.timeout}s (killed)"
        elif result is not None and result.error:
            error = result.error
        elif code < 0:
            error = (
                f"killed by signal {signal.Signals(-code).name}"
                if -code in signal.valid_signals()
                else f"signal {-code}"
            )
        else:
            error = f"the step process exited with code {code}"
        if result is None or timed_out:
            # The child could not say how it ended: say it in its log and status, for `stepc logs`.
            now = time.time()
            log = self.store.log_path(self.run_id, step.name, item, attempt)
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"\n[stepc] attempt {attempt} failed: {error}\n")
            started = result.started if result is not None else started
            result = TaskResult("failed", step.name, item, attempt, started, now, error=error, exit_code=code)
            self.store.write_status(self.run_id, result)
        self.db.record_attempt(
            self.run_id,
            step.name,
            item,
            attempt,
            status="timeout" if timed_out else "failed",
            started=result.started,
            ended=result.ended,
            duration=result.ended - result.started,
            exit_code=code,
            cached=0,
            code_hash=step.code_hash,
            params=None if task is None else task.params,
            inputs=None if task is None else [m.id for b in task.inputs for m in b.artifacts],
            error=error,
            log=self._log(step.name, item, attempt),
        )
        tries = state.tries.get(item, 1)
        if tries <= step.retry.times and not self.failing:
            delay = step.retry.wait_before(tries)
            self._seq += 1
            heapq.heappush(self.delayed, (time.monotonic() + delay, self._seq, step.name, item))
            self.reporter.retrying(step.name, item, attempt, error, delay)
            return
        where = step.name if item is None else f"{step.name}[{item}]"
        state.error = error
        self.reporter.task_done(step.name, item, "failed")
        self._step_done(state, "failed")
        self._fail(f"step '{where}' failed: {error}")

    def _fail(self, error: str) -> None:
        if not self.failing:
            self.failing = True
            self.error = error

    def _step_done(self, state: StepState, status: str) -> None:
        if state.status in ("succeeded", "failed", "skipped", "not_run"):
            return
        state.status = status
        state.ended = time.time()
        summary = self._summary(state)
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

    def _summary(self, state: StepState) -> StepResult:
        results = tuple(r for r in state.results.values() if r.status != "skipped")
        duration = None if state.started is None or state.ended is None else state.ended - state.started
        return StepResult(
            name=state.step.name,
            status=state.status,
            duration=duration,
            cached=bool(results) and not state.ran and all(r.cached for r in results),
            attempts=max(state.attempts.values(), default=0),
            items=state.count,
            error=state.error,
            results=tuple(sorted(results, key=lambda r: -1 if r.item is None else r.item)),
            output_names=state.step.outputs,
            store=self.store,
        )

    def _log(self, step: str, item: int | None, attempt: int) -> str:
        return self.store.log_path(self.run_id, step, item, attempt).relative_to(self.store.root).as_posix()

    # --- resume, the end, rollbacks ------------------------------------------------------

    def _preload(self) -> None:
        """Results a previous runner of this run committed: those tasks do not run again."""
        for step in self.pipeline.steps:
            base = self.store.step_dir(self.run_id, step.name)
            found = [self.store.read_result(self.run_id, step.name, None)]
            if (base / "items").is_dir():
                found += [
                    self.store.read_result(self.run_id, step.name, int(k))
                    for k in os.listdir(base / "items")
                    if k.isdigit()
                ]
            for result in found:
                if result is not None and result.status == "succeeded":
                    self.preloaded[(step.name, result.item)] = result

    def _finish(self, interrupted: bool) -> RunResult:
        for state in self.states.values():
            if state.status in ("pending", "active"):
                state.status = "failed" if state.error else "not_run"
                state.ended = time.time() if state.started else None
                self.db.set_step(self.run_id, state.step.name, status=state.status, error=state.error)
        status = "failed" if self.failing else "succeeded"
        rollbacks: list[tuple[str, int | None, str]] = []
        if self.failing and not interrupted:
            rollbacks = self._rollback()
        self.db.finish_run(self.run_id, status, self.error)
        result = RunResult(
            run_id=self.run_id,
            pipeline=self.pipeline.name,
            status=status,
            steps={name: self._summary(state) for name, state in self.states.items()},
            store_root=str(self.store.root),
            error=self.error,
            rollbacks=tuple(rollbacks),
        )
        self.reporter.run_done(result)
        return result

    def _rollback(self) -> list[tuple[str, int | None, str]]:
        """Run the rollbacks of the tasks that succeeded (cache hits did nothing to undo), most
        recently finished first; one failing does not stop the others."""
        done = [
            (result.ended, self.order[state.step.name], state.step, result)
            for state in self.states.values()
            if state.step.rollback
            for result in state.results.values()
            if result.status == "succeeded" and not result.cached
        ]
        done.sort(key=lambda entry: (entry[0], entry[1], entry[3].item or 0), reverse=True)
        outcome = []
        for _, _, step, result in done:
            log = self.store.task_dir(self.run_id, step.name, result.item) / "rollback.log"
            started = time.time()
            code = self._run_rollback(step, result, log)
            status = "succeeded" if code == 0 else "failed"
            if code == 0:
                self.store.uncommit(self.run_id, step.name, result.item)
            error = None if code == 0 else f"exit code {code}"
            self.db.record_rollback(
                self.run_id, step.name, result.item, status, started, error, log.relative_to(self.store.root).as_posix()
            )
            self.reporter.rollback(step.name, result.item, status)
            outcome.append((step.name, result.item, status))
        return outcome

    def _run_rollback(self, step: Step, result: TaskResult, log: Any) -> int:
        assert step.rollback is not None
        ref = step.rollback

        def body() -> int:
            import traceback

            with captured(log):
                try:
                    outputs = {m.name: self.store.read_artifact(m) for m in result.outputs}
                    call_rollback(ref, self.flow_path, self.pipeline.module, outputs)
                except BaseException:
                    traceback.print_exc()
                    return 1
            return 0

        pool = Pool()
        pool.start(body, None, step.timeout)
        while True:
            for _, code in pool.wait(None):
                return code
