"""Writing a store file so that it is whole or absent: under a temporary name beside it, then
renamed into place; a write that fails (a full disk) removes its temporary file."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name beside ``path`` and rename it into place;
    when any of it fails (a full disk), the temporary file is removed and ``path`` is as it was."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """``data`` as JSON (keys sorted, so the same data gives the same bytes), atomically."""
    atomic_write(path, json.dumps(data, sort_keys=True, default=str).encode())


def read_json(path: Path) -> Any:
    """A JSON file's value."""
    with open(path, "rb") as f:
        return json.loads(f.read())
