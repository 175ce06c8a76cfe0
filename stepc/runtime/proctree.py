"""A process's descendants, found and signalled through ``/proc`` (Linux), and the subreaper.

A step may start processes that leave its process group (``start_new_session=True``,
``os.setsid()``) or that outlive their parent (a double fork). ``killpg`` misses both. An
attempt's supervisor therefore makes itself a *child subreaper*: orphans among its descendants
are reparented to it rather than to init, so the tree under it stays whole, and at the end of
the attempt everything in it can be found and signalled. Elsewhere (no ``/proc``, no
``prctl``) these functions find nothing and the process group is all that is stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")

_libc: Any = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - no libc to talk to
        _libc = None


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; else nothing)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; whether that took effect."""
    return _libc is not None and _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0


def _children_files(pid: int) -> list[int] | None:
    """The children of ``pid`` from ``/proc/<pid>/task/*/children``; None when the kernel does
    not provide those files (then the caller scans every process's parent). Plain ``os`` calls:
    a supervisor reads this once per attempt, on every attempt's path."""
    found: list[int] = []
    tasks_dir = f"/proc/{pid}/task"
    try:
        tasks = os.listdir(tasks_dir)
    except FileNotFoundError:
        return []  # gone already
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"{tasks_dir}/{task}/children", "rb") as f:
                found.extend(int(word) for word in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"{tasks_dir}/{task}/stat"):
                continue  # the thread ended meanwhile
            return None
        except (OSError, ValueError):
            continue
    return found


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (from ``/proc/<pid>/stat``), None when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")": cut after the last.
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _all_parents() -> dict[int, list[int]]:
    """Parent pid -> child pids, over every process (the slow way, without ``children`` files)."""
    tree: dict[int, list[int]] = {}
    try:
        entries = [int(e.name) for e in _PROC.iterdir() if e.name.isdigit()]
    except OSError:
        return tree
    for pid in entries:
        parent = parent_of(pid)
        if parent is not None:
            tree.setdefault(parent, []).append(pid)
    return tree


def descendants(root: int) -> list[tuple[int, int]]:
    """Every live descendant of ``root`` as (pid, parent pid), parents before their children."""
    if not os.path.isdir("/proc"):
        return []
    scanned: dict[int, list[int]] | None = None
    found: list[tuple[int, int]] = []
    todo = [root]
    seen = {root}
    while todo:
        parent = todo.pop()
        children = _children_files(parent) if scanned is None else None
        if children is None:
            scanned = scanned if scanned is not None else _all_parents()
            children = scanned.get(parent, [])
        for pid in children:
            if pid not in seen:
                seen.add(pid)
                found.append((pid, parent))
                todo.append(pid)
    return found


def signal_tree(root: int, sig: int) -> int:
    """Send ``sig`` to every descendant of ``root``; returns how many there were.

    Each is signalled through a pidfd opened after checking that its parent is still in the
    tree, so a pid that ended and was reused by an unrelated process meanwhile is not hit.
    """
    tree = descendants(root)
    members = {root} | {pid for pid, _ in tree}
    for pid, _ in tree:
        _signal_member(pid, sig, members)
        if sig == signal.SIGTERM:
            _signal_member(pid, signal.SIGCONT, members)  # a stopped process acts on it only then
    return len(tree)


def _signal_member(pid: int, sig: int, members: set[int]) -> None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
        return
    try:
        fd = opener(pid)
    except OSError:
        return  # gone
    try:
        if parent_of(pid) in members:  # still the process found in the tree (not a reused pid)
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, sig)
    finally:
        os.close(fd)
