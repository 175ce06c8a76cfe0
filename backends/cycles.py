"""Cycle finding for the lints, walked with an explicit stack: a chain of ten thousand tasks is
as deep as a recursive walk would go, past Python's recursion limit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_DONE = object()  # the end of a node's successors (no node name is this object)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as the path ``a -> ... -> a``, or None. Nodes are visited in sorted order and
    successors in sorted order, so the cycle reported is the same on every run; a successor
    that is not a key of ``edges`` has no successors of its own."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(edges):
        if start in state:
            continue
        state[start] = 1
        path = [start]
        pending = [iter(sorted(edges[start]))]
        while pending:
            nxt = next(pending[-1], _DONE)
            if nxt is _DONE:
                pending.pop()
                state[path.pop()] = 2
                continue
            assert isinstance(nxt, str)
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt in edges and nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                pending.append(iter(sorted(edges[nxt])))
    return None
