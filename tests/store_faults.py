"""Real store faults for the tests: a store the command may not write, a file size limit.

Nothing is simulated: a read-only store is one the kernel refuses writes to (file modes for a
user other than root; for root, who ignores modes, a read-only bind mount in a private mount
namespace), and a full disk is a real ``RLIMIT_FSIZE`` on the command (writes past it fail
with EFBIG, as they fail with ENOSPC on a full disk).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# $0 is the folder, the rest the command: bind it onto itself, make that mount read-only, run.
_READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def read_only(store: Path) -> list[str]:
    """Make ``store`` read-only for the commands run with the returned prefix. Under CI, a
    machine that cannot do it fails the test rather than skipping it."""
    for path in [store, *store.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["unshare", "--mount", "sh", "-c", _READ_ONLY_MOUNT, str(store)]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", f"open({str(store / 'probe')!r}, 'w')"], capture_output=True, text=True
    )
    if probe.returncode == 0 or (
        "Read-only file system" not in probe.stderr and "Permission denied" not in probe.stderr
    ):
        (store / "probe").unlink(missing_ok=True)
        why = f"cannot make a store read-only on this machine (euid {os.geteuid()}): {probe.stderr.strip()[-200:]}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return prefix


def writable_again(store: Path) -> None:
    """Give the store its write bits back (so that the test can go on with it, and clean up)."""
    for path in [store, *store.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def limited(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: files the command writes can grow to ``limit`` bytes, no further;
    SIGXFSZ is ignored so that the write fails with EFBIG instead of killing the process."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run(
    *args: str, cwd: Path, prefix: list[str] | None = None, limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m stepc ARGS`` (or ``python ARGS`` when the first is ``-c``), under ``prefix``
    and with a file size ``limit`` when given."""
    command = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "stepc", *args]
    return subprocess.run(
        [*(prefix or []), *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=None if limit is None else limited(limit),
    )


def snapshot(store: Path) -> dict[str, bytes]:
    """Every file of the store with its bytes: what a read must leave as it found it."""
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def leftovers(store: Path) -> list[str]:
    """Temporary files a failed write left behind."""
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.name.endswith(".tmp"))
