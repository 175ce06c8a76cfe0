"""The front end: flow files in, IR out. The only room that imports libcst."""

from __future__ import annotations

from stepc.frontend.load import load, read_file

__all__ = ["load", "read_file"]
