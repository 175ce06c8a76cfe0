"""Live step output: the runner follows the log files its children write, as ``tail -f`` would.

A child's file descriptors 1 and 2 go to its attempt's log in the store (``runtime.exec.captured``),
so the log stays the one record of what a step printed; the runner reads each running log
from where it stopped, and hands the complete lines on, each marked with the task it came
from (``[train]``, ``[train/2]``, as Metaflow marks them). A line still being written waits
for its end, or for the task to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20  # read at most this much of one log per poll: a chatty step cannot stall the loop


@dataclass
class _Followed:
    path: Path
    label: str
    offset: int = 0
    partial: bytes = b""


class LogFollower:
    """The logs of the running tasks, each read from where the last poll stopped."""

    def __init__(self) -> None:
        self._logs: dict[Path, _Followed] = {}

    def follow(self, path: Path, label: str) -> None:
        """Start following ``path`` (it may not exist yet), its lines marked ``[label]``."""
        self._logs.setdefault(path, _Followed(path, label))

    def poll(self) -> str:
        """The complete lines written since the last poll, marked, as one text."""
        return "".join(self._read(followed, final=False) for followed in list(self._logs.values()))

    def close(self, path: Path) -> str:
        """The rest of a finished task's log, its last line even without an end, marked."""
        followed = self._logs.pop(path, None)
        return "" if followed is None else self._read(followed, final=True)

    @staticmethod
    def _read(followed: _Followed, final: bool) -> str:
        try:
            with open(followed.path, "rb") as f:
                f.seek(followed.offset)
                data = f.read() if final else f.read(CHUNK)
        except FileNotFoundError:
            data = b""
        followed.offset += len(data)
        data = followed.partial + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        followed.partial = data[cut:]
        if not cut:
            return ""
        text = data[:cut].decode("utf-8", errors="replace")
        prefix = f"[{followed.label}] "
        lines = text.splitlines()
        return prefix + f"\n{prefix}".join(lines) + "\n" if lines else ""
