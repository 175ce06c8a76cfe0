"""Child processes: fork from a warm parent, wait for any of them, stop them at their deadline.

``stepc run``'s runner and ``stepc exec`` alike run each attempt here. The parent has already
imported stepc and the flow module, so a forked child starts running user code within a
millisecond or two (a fresh interpreter would cost ~50-100 ms). Each child is an attempt's
supervisor (:mod:`stepc.runtime.supervisor`), which forks the attempt itself into a process
group of its own, enforces its deadline and stops every process the attempt left behind, those
in a new session included. Both die with their parent (Linux ``PR_SET_PDEATHSIG``), and
whatever the attempt does, ``os._exit`` and segfaults included, ends in an exit code the
parent reads.

At its deadline the attempt gets SIGTERM, which it turns into an exception so that the step's
``finally:`` blocks and context managers run; the grace period (``[tool.stepc] kill_grace``,
:data:`stepc.config.DEFAULT_KILL_GRACE` seconds by default) later, SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepc.config import DEFAULT_KILL_GRACE
from stepc.runtime import proctree, supervisor
from stepc.runtime.faults import StoreError

if TYPE_CHECKING:
    from stepc.runtime.store import TaskResult

INTERNAL_ERROR = 70  # EX_SOFTWARE: stepc itself failed inside the child
STORE_FAILED = 74  # EX_IOERR: the attempt could not write the store (a full disk); it says why


class Stopped(BaseException):
    """Raised in a child when its parent stops it (SIGTERM at a deadline): not an Exception, so
    user code's ``except Exception`` does not swallow it, while its ``finally:`` blocks run."""


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(f"stopped by signal {signal.Signals(signum).name} (its time limit)")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in a runner where Ctrl-C would be, so both stop it the same way."""


def _interrupt(signum: int, frame: Any) -> None:
    raise Terminated


def on_sigterm_interrupt() -> Any:
    """Treat SIGTERM like Ctrl-C in this (main) thread; returns the old handler (None when not
    in the main thread, where no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


@dataclass
class Child:
    """A running child (an attempt's supervisor) and what the runner attached to it."""

    pid: int
    payload: Any
    started: float
    pidfd: int | None = None
    report: int | None = None  # the read end of the pipe the supervisor reports on
    timed_out: bool = False  # known once the child ended: the attempt was stopped at its deadline
    wall_started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    store_fd: int | None = None  # the read end of the pipe the attempt says a store problem on
    store_said: str = ""  # what it said there, read when the child ended

    def store_error(self, code: int) -> StoreError | None:
        """The store problem the attempt ended on (exit code ``STORE_FAILED`` and a message:
        user code calling ``os._exit(74)`` is a step failing like any other), if any."""
        if code != STORE_FAILED or not self.store_said:
            return None
        return StoreError(self.store_said)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


def _forked(run: Callable[[], int], parent: int) -> None:
    """The start of a forked process: die with ``parent``, run, and exit with what ``run``
    returns, never returning into the parent's code."""
    code = INTERNAL_ERROR
    try:
        os.setpgid(0, 0)
        proctree.die_with_parent()
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(INTERNAL_ERROR)
        code = run()
    except Stopped:  # stopped as it started (the run is being stopped): nothing went wrong here
        code = 128 + signal.SIGTERM
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        _flush()
        os._exit(code)  # no atexit handlers, no inherited finalisers (the runner's SQLite)


def _attempt(body: Callable[[], int], limit_fd: int, close: tuple[int, ...], store_fd: int) -> Callable[[], int]:
    """What the attempt's own process runs: without the supervisor's descriptors, with the
    default signal dispositions and SIGTERM as :class:`Stopped`, then ``body``. A store that
    cannot take more is not the step's failure but the machine's: said on ``store_fd`` to the
    runner, which stops the run with that one line."""

    def run() -> int:
        signal.set_wakeup_fd(-1)
        for fd in close:
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGALRM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, supervisor.STOPS)  # blocked around the fork
        supervisor.announce_limits_to(limit_fd)
        try:
            return body()
        except StoreError as exc:
            with contextlib.suppress(BaseException):
                os.write(store_fd, str(exc).encode()[:4096])
            return STORE_FAILED

    return run


def _supervisor(
    body: Callable[[], int], timeout: float | None, grace: float, report: int, store_fd: int
) -> Callable[[], int]:
    def start_attempt(limit_fd: int, close: tuple[int, ...]) -> int:
        me = os.getpid()
        # A SIGTERM sent before the attempt handles it must not hit the supervisor's handler.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.STOPS)
        pid = os.fork()
        if pid == 0:
            _forked(_attempt(body, limit_fd, close, store_fd), me)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also set here, so a kill right after fork reaches the group
        return pid

    return lambda: supervisor.supervise(start_attempt, timeout, grace, report)


def exit_code(status: int) -> int:
    """The exit code, or minus the signal number when the child was killed by a signal."""
    return os.waitstatus_to_exitcode(status)


class Pool:
    """The set of running children; not thread-safe, used by the runner's single loop.
    ``grace``: seconds between an attempt's SIGTERM and its SIGKILL."""

    def __init__(self, grace: float = DEFAULT_KILL_GRACE) -> None:
        self.children: dict[int, Child] = {}
        self.grace = grace
        self._pidfd = hasattr(os, "pidfd_open")

    def __len__(self) -> int:
        return len(self.children)

    def start(self, body: Callable[[], int], payload: Any, timeout: float | None = None) -> Child:
        """Fork a child that runs ``body`` as a supervised attempt stopped after ``timeout``
        seconds; the child ends when the attempt and everything it started have."""
        _flush()
        parent = os.getpid()
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        store_r, store_w = os.pipe2(os.O_CLOEXEC)
        # Ctrl-C and SIGTERM wait until the child is known (so that kill_all stops it) and,
        # in the child, until the supervisor has its own handlers (see supervisor.STOPS).
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.STOPS)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(report_r)
                os.close(store_r)
                _forked(_supervisor(body, timeout, self.grace, report_w, store_w), parent)
            os.close(report_w)
            os.close(store_w)  # so that no later child holds it
            os.set_blocking(store_r, False)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
            child = Child(pid, payload, time.monotonic(), report=report_r, store_fd=store_r)
            if self._pidfd:
                try:
                    child.pidfd = os.pidfd_open(pid)
                except OSError:
                    self._pidfd = False
            self.children[pid] = child
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return child

    def wait(self, timeout: float | None) -> list[tuple[Child, int]]:
        """Children that ended within ``timeout`` seconds (None: until one does), with their
        attempts' exit codes."""
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            done = self._reap()
            if done or not self.children:
                return done
            now = time.monotonic()
            if end is not None and end <= now:
                return done
            wait_for = None if end is None else end - now
            fds = [c.pidfd for c in self.children.values() if c.pidfd is not None]
            if fds and len(fds) == len(self.children):
                # poll, not select: no FD_SETSIZE limit on descriptor numbers
                poller = select.poll()
                for fd in fds:
                    poller.register(fd, select.POLLIN)
                poller.poll(None if wait_for is None else wait_for * 1000)
            else:
                time.sleep(0.002 if wait_for is None else min(wait_for, 0.002))

    def _reap(self) -> list[tuple[Child, int]]:
        done: list[tuple[Child, int]] = []
        for pid in list(self.children):
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                got, status = pid, 0
            if got == 0:
                continue
            child = self.children.pop(pid)
            code = exit_code(status)
            if child.report is not None:
                said = _read_report(child.report)
                if said is not None:
                    code, child.timed_out = said.code, said.timed_out
            if child.pidfd is not None:
                os.close(child.pidfd)
            if child.store_fd is not None:
                child.store_said = _drain(child.store_fd)
                os.close(child.store_fd)
                child.store_fd = None
            done.append((child, code))
        return done

    def stop(self, child: Child) -> None:
        """Ask the child's supervisor to stop the attempt and all it started: SIGTERM, then
        SIGKILL after the grace period; asked again, SIGKILL at once."""
        try:
            if child.pidfd is not None:
                signal.pidfd_send_signal(child.pidfd, signal.SIGTERM)
            else:
                os.kill(child.pid, signal.SIGTERM)
        except OSError:
            pass  # ended already

    def kill_all(self) -> None:
        """Stop every child and wait until they have ended; a second Ctrl-C (or SIGTERM, which
        the runner raises as one) while waiting cuts the grace period short."""
        for child in list(self.children.values()):
            self.stop(child)
        while self.children:
            try:
                self.wait(0.05)
            except KeyboardInterrupt:
                for child in list(self.children.values()):
                    self.stop(child)


def _read_report(fd: int) -> supervisor.Report | None:
    try:
        data = os.read(fd, 256)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return supervisor.Report.parse(data)


def _drain(fd: int) -> str:
    """What an ended attempt wrote on its store pipe (non-blocking: a process it forked may
    still hold the write end, so there may be no end of file to wait for)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # BlockingIOError included: nothing more for now
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def describe_exit(code: int, timed_out: bool, timeout: int | None, result: TaskResult | None) -> str:
    """Why an attempt failed, in a few words."""
    if timed_out:
        return f"timed out after {timeout}s (killed)"
    if result is not None and result.error:
        return result.error
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"the step process exited with code {code}"


def run_in_child(body: Callable[[], int], timeout: float | None = None, grace: float = DEFAULT_KILL_GRACE) -> int:
    """Run ``body`` in a forked, supervised child and wait for it; returns its exit code, or
    raises the :class:`StoreError` the attempt ended on."""
    pool = Pool(grace)
    pool.start(body, None, timeout)
    while True:
        done = pool.wait(None)
        if done:
            child, code = done[0]
            problem = child.store_error(code)
            if problem is not None:
                raise problem
            return code
