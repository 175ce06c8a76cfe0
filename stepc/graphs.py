"""Directed graphs as plain mappings: order, cycles and reachability for the front ends, the
backends and the lints.

A graph is ``{node: [successor, ...]}``. Every function here is pure and iterative, so a long
chain (tens of thousands of steps) never meets Python's recursion limit. A successor that is
not a key of the graph is ignored: the callers report unknown names themselves. Where a
function takes ``order``, it is the nodes in the order that breaks ties (declaration order,
say); nodes missing from it come after, in the graph's own order.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)
Graph = Mapping[N, Iterable[N]]


def _ranks(graph: Graph[N], order: Sequence[N] | None) -> dict[N, int]:
    rank = {node: i for i, node in enumerate(order or ()) if node in graph}
    for node in graph:
        rank.setdefault(node, len(rank))
    return rank


def reverse(graph: Graph[N]) -> dict[N, list[N]]:
    """The same nodes with every edge turned round (successors become predecessors)."""
    turned: dict[N, list[N]] = {node: [] for node in graph}
    for node, successors in graph.items():
        for successor in dict.fromkeys(successors):
            if successor in turned:
                turned[successor].append(node)
    return turned


def topological_order(graph: Graph[N], order: Sequence[N] | None = None) -> list[N] | None:
    """Every node after all its predecessors, ties broken by ``order``; None on a cycle
    (:func:`find_cycle` then names one)."""
    rank = _ranks(graph, order)
    nodes = sorted(rank, key=rank.__getitem__)
    successors = {node: [s for s in dict.fromkeys(graph[node]) if s in rank] for node in nodes}
    waiting = dict.fromkeys(nodes, 0)
    for targets in successors.values():
        for target in targets:
            waiting[target] += 1
    ready = [rank[node] for node in nodes if waiting[node] == 0]
    heapq.heapify(ready)
    result: list[N] = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        result.append(node)
        for target in successors[node]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, rank[target])
    return result if len(result) == len(nodes) else None


def find_cycle(graph: Graph[N], order: Sequence[N] | None = None) -> list[N] | None:
    """One cycle as a closed path ``[a, b, ..., a]`` along the edges, or None when there is none.

    The search starts from the nodes in ``order`` and follows successors in their listed order,
    so the answer is deterministic; the path starts at its node earliest in ``order``.
    """
    rank = _ranks(graph, order)
    done: set[N] = set()
    for start in sorted(rank, key=rank.__getitem__):
        if start in done:
            continue
        path = [start]
        on_path = {start}
        pending: list[Iterator[N]] = [iter(graph[start])]
        while pending:
            for successor in pending[-1]:  # resumes where the last visit of this node stopped
                if successor in on_path:
                    cycle = path[path.index(successor) :]
                    first = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
                    cycle = cycle[first:] + cycle[:first]
                    return [*cycle, cycle[0]]
                if successor in rank and successor not in done:
                    path.append(successor)
                    on_path.add(successor)
                    pending.append(iter(graph[successor]))
                    break
            else:
                pending.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
    return None


def reachable(graph: Graph[N], starts: Iterable[N]) -> set[N]:
    """Nodes reachable from ``starts`` along one or more edges (a start only through a cycle
    or from another start)."""
    seen: set[N] = set()
    frontier = [s for start in starts if start in graph for s in graph[start]]
    while frontier:
        node = frontier.pop()
        if node not in seen and node in graph:
            seen.add(node)
            frontier.extend(graph[node])
    return seen


def ancestors(graph: Graph[N], order: Sequence[N]) -> dict[N, set[N]]:
    """Node -> every node with a path to it; ``order`` is a topological order of the graph.

    One pass in that order, each node's set from its predecessors' (a long chain holds a
    quadratic number of pairs: use :func:`reachable` on :func:`reverse` for a few nodes).
    """
    before: dict[N, set[N]] = {}
    predecessors = reverse(graph)
    for node in order:
        seen: set[N] = set()
        for predecessor in predecessors.get(node, ()):
            seen.add(predecessor)
            seen |= before[predecessor]
        before[node] = seen
    return before
