"""The supervisor of one attempt: the process between the runner and the step.

``Pool.start`` forks a supervisor, which forks the attempt (the step's own process, in a
process group of its own) and owns everything below it:

- it is a child subreaper (:func:`~stepc.runtime.proctree.become_subreaper`), so whatever the
  step starts, in a new session or double-forked, stays in its tree and is reaped by it;
- it enforces the deadline: at the deadline SIGTERM to the attempt's group and to every
  descendant, ``grace`` seconds later SIGKILL, again until none is left. A group's steps run
  one after the other in the attempt, each telling the supervisor its time limit through a
  pipe (:func:`step_limit`), so no step relies on a signal it could ignore (SIGALRM);
- when the attempt ends (success, failure or timeout), descendants still alive get the same
  SIGTERM, grace, SIGKILL, and the supervisor exits only when its tree is empty;
- asked to stop (SIGTERM from the runner: Ctrl-C), it does the same at once; asked twice, it
  sends SIGKILL without waiting.

It then writes the attempt's exit code and whether it timed out on a pipe the runner reads.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from stepc.runtime import proctree

STOPS = {signal.SIGINT, signal.SIGTERM}  # blocked while a supervisor is forked, until it handles them
_limit_fd: int | None = None  # in an attempt: where step_limit() writes (the supervisor reads)
_POLL = 0.01  # seconds between looks at a tree that is being stopped


def announce_limits_to(fd: int) -> None:
    """In a just forked attempt: :func:`step_limit` writes to ``fd``, its supervisor's pipe."""
    global _limit_fd
    _limit_fd = fd


def step_limit(seconds: float | None) -> None:
    """In an attempt, tell its supervisor the time limit of the step starting now (None: no
    limit, e.g. between a group's steps); the deadline counts from this call."""
    if _limit_fd is None:
        return
    text = "-" if seconds is None else repr(float(seconds))
    with contextlib.suppress(OSError):
        os.write(_limit_fd, f"{text}\n".encode())


@dataclass(frozen=True)
class Report:
    """How an attempt ended, as its supervisor saw it."""

    code: int  # the exit code, or minus the signal number
    timed_out: bool

    def line(self) -> bytes:
        return f"{self.code} {int(self.timed_out)}\n".encode()

    @staticmethod
    def parse(data: bytes) -> Report | None:
        words = data.decode("ascii", "replace").split()
        if len(words) != 2 or not all(w.lstrip("-").isdigit() for w in words):
            return None
        return Report(int(words[0]), words[1] == "1")


class _Stops:
    """SIGTERM from the runner, counted: the first stops the tree with a grace period, the
    second at once."""

    count = 0

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        cls.count += 1


def supervise(
    start_attempt: Callable[[int, tuple[int, ...]], int], timeout: float | None, grace: float, report: int
) -> int:
    """Run in a forked supervisor: start the attempt (``start_attempt(limit_fd, own_fds)``
    forks it, the attempt closing ``own_fds``, and returns its pid), watch it and its tree, and
    write a :class:`Report` to the fd ``report``. Returns the supervisor's own exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    signal.signal(signal.SIGTERM, _Stops.handle)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler, so that it wakes poll
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)  # blocked by Pool.start around the fork
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    limit_r, limit_w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(limit_r, False)
    me = os.getpid()
    proctree.become_subreaper()
    attempt = start_attempt(limit_w, (wake_r, wake_w, limit_r, report))
    os.close(limit_w)
    watch = _Watch(me, attempt, grace)
    if timeout is not None:
        watch.deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(wake_r, select.POLLIN)
    poller.register(limit_r, select.POLLIN)
    pending = b""
    while True:
        watch.reap()
        pending = watch.read_limits(limit_r, pending)
        if watch.step(_Stops.count):
            break
        wait = watch.wait_for()
        poller.poll(None if wait is None else max(0.0, wait) * 1000)
        with contextlib.suppress(OSError):
            os.read(wake_r, 4096)
    with contextlib.suppress(OSError):
        os.write(report, Report(watch.code, watch.timed_out).line())
    return 0


class _Watch:
    """The supervisor's state: the attempt, its deadline, and the stopping of its tree."""

    def __init__(self, me: int, attempt: int, grace: float) -> None:
        self.me = me
        self.attempt = attempt
        self.grace = grace
        self.deadline: float | None = None
        self.kill_at: float | None = None  # set once the tree got SIGTERM
        self.timed_out = False
        self.code: int = 0
        self.ended = False  # the attempt's own process has ended
        self.stops_seen = 0

    def reap(self) -> None:
        """Collect every ended child: the attempt, and orphans reparented to this subreaper."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.attempt:
                self.ended = True
                self.code = os.waitstatus_to_exitcode(status)

    def read_limits(self, fd: int, pending: bytes) -> bytes:
        """Apply the limits the attempt's steps announced (the last one counts)."""
        try:
            pending += os.read(fd, 4096)
        except (BlockingIOError, OSError):
            return pending
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if self.kill_at is None:  # once stopping, a late announcement changes nothing
                text = line.decode("ascii", "replace").strip()
                with contextlib.suppress(ValueError):  # not step_limit's: keep the deadline
                    self.deadline = None if text == "-" else time.monotonic() + float(text)
        return pending

    def step(self, stops: int) -> bool:
        """Act on the time and on the runner's requests; True when all is over."""
        now = time.monotonic()
        if stops > self.stops_seen:
            self.stops_seen = stops
            if self.kill_at is None:
                self._terminate(now)
            else:
                self.kill_at = now  # asked again: no more grace
        if not self.ended and self.kill_at is None and self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            self._terminate(now)
        alive = not self.ended or bool(proctree.descendants(self.me))
        if not alive:
            return True
        if self.ended and self.kill_at is None:
            self._terminate(now)  # the attempt ended, what it left behind has not: stop that too
        if self.kill_at is not None and now >= self.kill_at:
            self._signal(signal.SIGKILL)
        return False

    def wait_for(self) -> float | None:
        """Seconds until something is due (None: until a signal or a message)."""
        now = time.monotonic()
        if self.kill_at is not None:
            return _POLL if now >= self.kill_at else min(_POLL, self.kill_at - now)
        if self.deadline is not None and not self.ended:
            return self.deadline - now
        return None

    def _terminate(self, now: float) -> None:
        self.kill_at = now + self.grace
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if not self.ended:
            with contextlib.suppress(OSError):
                os.killpg(self.attempt, sig)  # the attempt's group first, in one go
        proctree.signal_tree(self.me, sig)
