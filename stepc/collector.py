"""Pausing Python's cycle collector around one burst of allocation (a file read, a compile)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the block, then put it back as it was.

    Parsing a flow, rendering and linting allocate hundreds of thousands to millions of
    short-lived objects, none of them in a reference cycle, and every allocation burst triggers
    collections that walk every live object (the trees, the IR) again: a third of reading a
    1,000-step flow, two thirds of the lint at 10,000 steps. Garbage is collected between blocks.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
