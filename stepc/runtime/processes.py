"""Child processes: fork from a warm parent, wait for any of them, stop them at their deadline.

``stepc run``'s runner and ``stepc exec`` alike run each attempt here. The parent has already
imported stepc and the flow module, so a forked child starts running user code within a
millisecond or two (a fresh interpreter would cost ~50-100 ms). Isolation is kept: each child
is its own process group (a timeout stops the whole group, grandchildren included), dies with
its parent (Linux ``PR_SET_PDEATHSIG``), and whatever it does, ``os._exit`` and segfaults
included, ends in an exit status the parent reads.

At its deadline a child's group gets SIGTERM, which the child turns into an exception so that
the step's ``finally:`` blocks and context managers run; ``GRACE`` seconds later, SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepc.runtime.faults import StoreError

if TYPE_CHECKING:
    from stepc.runtime.store import TaskResult

_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - no libc to talk to
        _libc = None

INTERNAL_ERROR = 70  # EX_SOFTWARE: stepc itself failed inside the child
STORE_FAILED = 74  # EX_IOERR: the child could not write the store (a full disk); its report says why
GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a child past its deadline


class Stopped(BaseException):
    """Raised in a child when its parent stops it (SIGTERM at a deadline): not an Exception, so
    user code's ``except Exception`` does not swallow it, while its ``finally:`` blocks run."""


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(f"stopped by signal {signal.Signals(signum).name} (its time limit)")


@dataclass
class Child:
    """A running child process and what the runner attached to it."""

    pid: int
    payload: Any
    started: float
    deadline: float | None = None
    pidfd: int | None = None
    killed_for_timeout: bool = False
    kill_at: float | None = None  # when the SIGKILL follows the deadline's SIGTERM
    wall_started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    report_fd: int | None = None  # the read end of the pipe a child says a store problem on
    report: str = ""  # what it said there, read when it ended

    def store_error(self, code: int) -> StoreError | None:
        """The store problem the child ended on (exit code ``STORE_FAILED`` and a report: user
        code calling ``os._exit(74)`` is a step failing like any other), if any."""
        if code != STORE_FAILED or not self.report:
            return None
        return StoreError(self.report)


def _in_child(body: Callable[[], int], parent: int, report_fd: int) -> None:
    code = INTERNAL_ERROR
    try:
        os.setpgid(0, 0)
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(INTERNAL_ERROR)
        for sig in (signal.SIGINT, signal.SIGALRM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _stop)
        code = body()
    except StoreError as exc:
        # Not the step's failure but the machine's: told to the parent, which stops the run
        # with this one line (the store may have no room left for a log or a status).
        code = STORE_FAILED
        with contextlib.suppress(BaseException):
            os.write(report_fd, str(exc).encode()[:4096])
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # no atexit handlers, no inherited finalisers (the runner's SQLite)


def exit_code(status: int) -> int:
    """The exit code, or minus the signal number when the child was killed by a signal."""
    return os.waitstatus_to_exitcode(status)


class Pool:
    """The set of running children; not thread-safe, used by the runner's single loop."""

    def __init__(self) -> None:
        self.children: dict[int, Child] = {}
        self._pidfd = hasattr(os, "pidfd_open")

    def __len__(self) -> int:
        return len(self.children)

    def start(self, body: Callable[[], int], payload: Any, timeout: float | None = None) -> Child:
        """Fork a child that runs ``body`` and exits with the code it returns."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        parent = os.getpid()
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(report_read)
            _in_child(body, parent, report_write)
        os.close(report_write)  # so that no later child holds it
        os.set_blocking(report_read, False)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also set here, so a kill right after fork reaches the group
        now = time.monotonic()
        child = Child(pid, payload, now, None if timeout is None else now + timeout, report_fd=report_read)
        if self._pidfd:
            try:
                child.pidfd = os.pidfd_open(pid)
            except OSError:
                self._pidfd = False
        self.children[pid] = child
        return child

    def wait(self, timeout: float | None) -> list[tuple[Child, int]]:
        """Children that ended within ``timeout`` seconds (None: until one does), with their
        exit codes; a child past its deadline is killed first."""
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            self._kill_overdue()
            done = self._reap()
            if done or not self.children:
                return done
            now = time.monotonic()
            limit = self._next_deadline()
            if end is not None:
                limit = end if limit is None else min(limit, end)
            if limit is not None and limit <= now:
                return self._reap()
            wait_for = None if limit is None else max(0.0, limit - now)
            fds = [c.pidfd for c in self.children.values() if c.pidfd is not None]
            if fds and len(fds) == len(self.children):
                # poll, not select: no FD_SETSIZE limit on descriptor numbers
                poller = select.poll()
                for fd in fds:
                    poller.register(fd, select.POLLIN)
                poller.poll(None if wait_for is None else wait_for * 1000)
            else:
                time.sleep(0.002 if wait_for is None else min(wait_for, 0.002))

    def _next_deadline(self) -> float | None:
        deadlines = [
            c.kill_at if c.killed_for_timeout else c.deadline
            for c in self.children.values()
            if (c.kill_at if c.killed_for_timeout else c.deadline) is not None
        ]
        return min(d for d in deadlines if d is not None) if deadlines else None

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if child.deadline is not None and not child.killed_for_timeout and now >= child.deadline:
                child.killed_for_timeout = True
                child.kill_at = now + GRACE
                self.kill(child, signal.SIGTERM)
            elif child.kill_at is not None and now >= child.kill_at:
                child.kill_at = None
                self.kill(child)

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
            if child.pidfd is not None:
                os.close(child.pidfd)
            if child.report_fd is not None:
                child.report = _drain(child.report_fd)
                os.close(child.report_fd)
                child.report_fd = None
            done.append((child, exit_code(status)))
        return done

    def kill(self, child: Child, sig: int = signal.SIGKILL) -> None:
        """Signal the child's whole process group."""
        try:
            os.killpg(child.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, sig)

    def kill_all(self) -> None:
        for child in list(self.children.values()):
            self.kill(child)
        while self.children:
            self.wait(0.05)


def _drain(fd: int) -> str:
    """What an ended child wrote on its report pipe (non-blocking: a process the child forked
    may still hold the write end, so there may be no end of file to wait for)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except (BlockingIOError, OSError):
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


def run_in_child(body: Callable[[], int], timeout: float | None = None) -> int:
    """Run ``body`` in a forked child and wait for it; returns its exit code, or raises the
    :class:`StoreError` the child ended on."""
    pool = Pool()
    pool.start(body, None, timeout)
    while True:
        done = pool.wait(None)
        if done:
            child, code = done[0]
            problem = child.store_error(code)
            if problem is not None:
                raise problem
            return code
