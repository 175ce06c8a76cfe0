"""From a path to the text of a Python module, as Python itself would read it, or why not.

Flow files come from anywhere a user points: a FIFO would block a read forever and a symlink
to ``/dev/zero`` would fill memory, so only regular files of a bounded size are opened. The
text is decoded by PEP 263's rules (a BOM, else a ``coding`` line on line 1 or 2, else UTF-8),
with the standard library deciding what a declaration means.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass

# Far above any hand-written flow (the largest in the corpus is under 100 KiB), far below what
# a parse tree of it would cost in memory.
MAX_SOURCE_BYTES = 10 * 1024 * 1024

# PEP 263's declaration, as ``tokenize`` matches it.
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BOM = codecs.BOM_UTF8

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class Unreadable:
    """Why a file cannot be a module: a message to follow its path, and where (1-based)."""

    message: str
    line: int = 1
    col: int = 1


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a flow file"
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"is {kind}, not a regular file; stepc reads flow files only from regular files"


def _too_large(size: int) -> str:
    limit = MAX_SOURCE_BYTES // (1024 * 1024)
    return f"is {size:,} bytes, over the {limit} MiB ({MAX_SOURCE_BYTES:,} bytes) stepc reads of a flow file"


def read_module_bytes(path: str | os.PathLike[str]) -> bytes | Unreadable:
    """The bytes of a regular file of at most :data:`MAX_SOURCE_BYTES`, never blocking."""
    try:
        # stat follows symlinks: a link to a device is judged by the device.
        info = os.stat(path)
    except FileNotFoundError:
        return Unreadable("no such file")
    except OSError as exc:
        return Unreadable(f"cannot be read: {exc.strerror or exc}")
    problem = _not_regular(info.st_mode)
    if problem is None and info.st_size > MAX_SOURCE_BYTES:
        problem = _too_large(info.st_size)
    if problem is not None:
        return Unreadable(problem)
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO since the stat, open still returns.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return Unreadable(f"cannot be read: {exc.strerror or exc}")
    try:
        problem = _not_regular(os.fstat(fd).st_mode)
        if problem is not None:
            return Unreadable(problem)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        return Unreadable(f"cannot be read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > MAX_SOURCE_BYTES:  # it grew since the stat; what was read is no size
        return Unreadable(f"grew while being read, past the {MAX_SOURCE_BYTES // (1024 * 1024)} MiB stepc reads")
    return data


def _cookie_place(data: bytes) -> tuple[int, int]:
    """(line, col) of the codec name of the coding declaration on line 1 or 2."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    for number, line in enumerate(data[start:].splitlines()[:2], 1):
        match = _COOKIE.match(line)
        if match:
            return number, len(line[: match.start(1)].decode("latin-1")) + 1
    return 1, 1


def decode_module(data: bytes) -> str | Unreadable:
    """The text of a module's bytes, decoded as Python decodes them (PEP 263)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        text = str(exc.args[0]) if exc.args else str(exc)
        if text.startswith("unknown encoding"):
            name = text.partition(":")[2].strip()
            line, col = _cookie_place(data)
            return Unreadable(f"declares an unknown encoding {name!r} (a PEP 263 coding line)", line, col)
        if text.startswith("encoding problem"):
            line, col = _cookie_place(data)
            return Unreadable("starts with a UTF-8 byte order mark but declares another encoding", line, col)
        encoding = "utf-8"  # no declaration and not UTF-8: say where, below
    declared = not encoding.startswith("utf-8")
    if declared and not codecs.lookup(encoding)._is_text_encoding:
        line, col = _cookie_place(data)
        return Unreadable(f"declares {encoding!r}, which is not a text encoding", line, col)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        before = data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start]
        col = len(before.decode(encoding, errors="replace")) + 1
        byte = f"byte 0x{data[exc.start]:02x}"
        if not declared:
            return Unreadable(f"is not UTF-8 text ({byte}); save it as UTF-8 or declare its encoding", line, col)
        return Unreadable(f"is not valid {encoding} text ({byte}), the encoding its coding line declares", line, col)
    head = text.split("\n", 2)[:2]
    if declared and not any(_COOKIE.match(part.encode("utf-8", errors="replace")) for part in head):
        # UTF-16 and the like: the declaration itself does not read as text in its encoding.
        line, col = _cookie_place(data)
        return Unreadable(f"declares {encoding!r}, which cannot encode its own coding line", line, col)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text
