"""Store problems that are the machine's, not the user's code: a full disk, a read-only store.

They are raised as :class:`StoreError`, whose text is the one line the command line prints
(``error: <text>``) before exiting 1; nothing about them is worth a traceback.
"""

from __future__ import annotations

import errno
import os
import resource
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# A write that failed because there is no room: the disk, the file size limit, the quota.
FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
# A write that failed because the store may not be written: a read-only mount, permissions.
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class StoreError(Exception):
    """A store problem, said in one line (its ``str``)."""


class StoreFull(StoreError):
    """A store write found no room."""

    def __init__(self, root: Path | str, reason: str, what: str) -> None:
        super().__init__(f"the store at {root} is full ({reason}) while writing {what}")


class StoreReadOnly(StoreError):
    """A command that writes was given a store it may not write."""

    def __init__(self, root: Path | str, reason: str, command: str) -> None:
        super().__init__(
            f"the store at {root} is read-only ({reason}): `{command}` writes there; "
            "the commands that read it (runs, show, logs, artifact, metrics) still work"
        )


class CorruptStoreFile(StoreError, ValueError):
    """A store file that is not what stepc wrote there (truncated, edited, not JSON)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path} is corrupt ({problem}): it is not the file stepc wrote")


def reason(exc: OSError) -> str:
    """The system's words for an OSError (``No space left on device``)."""
    return exc.strerror or os.strerror(exc.errno or 0)


@contextmanager
def writing(root: Path | str, what: str) -> Iterator[None]:
    """Turn a write into ``root`` that finds no room into :class:`StoreFull` naming ``what``."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL:
            raise StoreFull(root, reason(exc), what) from exc
        raise


def no_room(files: list[Path]) -> str | None:
    """Why writing ``files`` found no room, when the system says so: the file system is full,
    or one of them reached this process's file size limit (``ulimit -f``). For writers that do
    not pass the errno on (SQLite reports a failed write as "disk I/O error")."""
    try:
        space = os.statvfs(files[0].parent)
    except OSError:
        return None
    if space.f_bavail == 0 or (space.f_files and space.f_favail == 0):
        return os.strerror(errno.ENOSPC)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        for file in files:
            with suppress(OSError):
                if file.stat().st_size >= limit:
                    return os.strerror(errno.EFBIG)
    return None


def check_writable(root: Path, command: str) -> None:
    """Raise :class:`StoreReadOnly` (or :class:`StoreFull`) unless a file can be created under
    ``root`` and its ``runs/`` folder, and the run database opened for writing: a run finds out
    before it starts, not in the middle."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        for folder in (root, root / "runs"):
            if folder.is_dir():
                fd, probe = tempfile.mkstemp(prefix=".stepc-probe.", suffix=".tmp", dir=folder)
                os.close(fd)
                os.unlink(probe)
        database = root / "stepc.db"
        if database.exists():
            os.close(os.open(database, os.O_RDWR))  # opened, never written
    except OSError as exc:
        if exc.errno in READ_ONLY:
            raise StoreReadOnly(root, reason(exc), command) from exc
        if exc.errno in FULL:
            raise StoreFull(root, reason(exc), "a new file") from exc
        raise
