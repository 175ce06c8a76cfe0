"""Entry points of the front end (being written)."""

from __future__ import annotations

from stepc.diagnostics import Diagnostic
from stepc.ir import Pipeline


def read_file(path: str) -> tuple[list[Pipeline], list[Diagnostic]]:
    """Every pipeline a flow file declares, and the diagnostics found while reading it."""
    raise NotImplementedError


def load(path: str, pipeline: str | None = None) -> tuple[Pipeline | None, list[Diagnostic]]:
    """The one pipeline of ``path`` named ``pipeline`` (or the only one), or diagnostics."""
    raise NotImplementedError
