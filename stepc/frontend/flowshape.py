"""The shape of a flow class's graph (SPEC §3): which step follows which, Metaflow's rules on
splits, joins, foreaches and switches, and where each step runs (its switch choices).

Metaflow's rules, checked statically: ``start`` and ``end`` exist, every other step ends in
``self.next``, every step is reachable, the branches of a split or foreach meet in a join
(a step taking ``inputs``), and only the exclusive branches of a switch meet without one.

A step's condition is where the switches before it went: a set of alternatives, each a set
of (switch step, case) choices; alternatives that cover every case of a switch fold back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stepc import graphs
from stepc.declarations import Named, Reporter
from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.frontend.flowdecl import FlowDecl, FlowStepDecl

RESERVED_NAMES = frozenset({"name", "next", "input", "index", "cmd"})  # attributes of every flow object
Choice = tuple[str, Any]  # (switch step, case key)
Terms = frozenset[frozenset[Choice]]  # OR of ANDs
Reaching = dict[str, tuple[str, ...]]  # attribute -> the steps whose value may arrive
Frame = tuple[str, str]  # (step that split, "split" | "foreach"): an open fan-out


@dataclass
class FlowGraph:
    """A flow class's steps linked by their ``self.next`` calls, and what was found wrong."""

    flow: FlowDecl
    reporter: Reporter
    steps: dict[str, FlowStepDecl]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    successors: dict[str, list[tuple[str, Choice | None]]] = field(default_factory=dict)
    predecessors: dict[str, list[str]] = field(default_factory=dict)
    # A recursive switch: step -> the cases that go back to the step itself (a new pass of it,
    # not an edge of the graph, so the graph stays acyclic).
    repeats: dict[str, list[Any]] = field(default_factory=dict)

    def error(self, code: str, message: str, anchor: object) -> None:
        self.diagnostics.append(self.reporter.diagnostic(code, message, anchor))


# -- structure ---------------------------------------------------------------------------------


def link(graph: FlowGraph) -> bool:
    """Successors and predecessors from the ``self.next`` calls; False when the graph is unusable."""
    ok = True
    for mark, required in (("start", graph.flow.start), ("end", graph.flow.end)):
        if required not in graph.steps:
            message = f"flow '{graph.flow.name.value}' has no '{required}' step (or one marked @step({mark}=True))"
            graph.error("S130", message, graph.flow.name.anchor)
            ok = False
    for step in graph.flow.steps:
        graph.successors[step.name.value] = []
        graph.predecessors.setdefault(step.name.value, [])
    for step in graph.flow.steps:
        move = step.transition
        if move is None:
            ok = ok and (step.name.value == graph.flow.end)
            continue
        choices: Iterable[tuple[Any, Named]] = move.cases or [(None, t) for t in move.targets]
        for key, target in choices:
            if target.value not in graph.steps:
                hint = did_you_mean(target.value, graph.steps)
                graph.error(
                    "S131", f"self.next goes to '{target.value}', which is not a @step method{hint}", target.anchor
                )
                ok = False
                continue
            if move.kind == "switch" and target.value == step.name.value:
                graph.repeats.setdefault(target.value, []).append(key)
                continue
            choice = (step.name.value, key) if move.kind == "switch" else None
            graph.successors[step.name.value].append((target.value, choice))
            if step.name.value not in graph.predecessors[target.value]:
                graph.predecessors[target.value].append(step.name.value)
    if not ok or not _check_shapes(graph):
        return False
    start = graph.flow.start
    reached = {start} | graphs.reachable(next_steps(graph), [start])
    for step in graph.flow.steps:
        if step.name.value not in reached:
            graph.error(
                "S132",
                f"step '{step.name.value}' is unreachable: no self.next leads to it from start",
                step.name.anchor,
            )
    return len(reached) == len(graph.steps)


def _check_shapes(graph: FlowGraph) -> bool:
    """Metaflow's rules on each step's own shape (the graph's are checked by the walks after)."""
    ok = True
    for step in graph.flow.steps:
        name, move = step.name.value, step.transition
        problem = None
        if name in RESERVED_NAMES:
            problem = ("S103", f"'{name}' is a reserved name on a flow (self.{name}): rename the step")
        elif name == graph.flow.start and graph.predecessors[name]:
            problem = ("S131", f"{name} is where the flow begins: step '{graph.predecessors[name][0]}' cannot go to it")
        elif step.is_join and name == graph.flow.end:
            problem = ("S133", f"{name} (the end step) cannot be a join step: add a join step before it")
        elif step.is_join and move is not None and move.kind != "linear":
            problem = ("S133", f"join step '{name}' cannot also fan out or switch: add a step after it that does")
        elif step.is_join and any(_is_switch(graph, p) for p in graph.predecessors[name]):
            problem = ("S133", f"a switch cannot go straight to join step '{name}': add a step on that branch")
        elif name in graph.repeats and not graph.successors[name]:
            problem = ("S107", f"every case of the switch in step '{name}' goes back to '{name}': it never ends")
        elif move is not None and move.kind == "foreach" and graph.steps[move.targets[0].value].is_join:
            graph.error("S134", "a foreach needs a step between it and its join, to run for each item", move.anchor)
            ok = False
        if problem is not None:
            graph.error(problem[0], problem[1], step.name.anchor)
            ok = False
    return ok


def _is_switch(graph: FlowGraph, name: str) -> bool:
    move = graph.steps[name].transition
    return move is not None and move.kind == "switch"


def next_steps(graph: FlowGraph) -> dict[str, list[str]]:
    """Step -> the steps its ``self.next`` goes to (each once, switch cases merged)."""
    return {name: list(dict.fromkeys(t for t, _ in targets)) for name, targets in graph.successors.items()}


def order(graph: FlowGraph) -> list[str] | None:
    """Topological order, ties broken by declaration order; a cycle is reported with its path."""
    successors = next_steps(graph)
    found = graphs.topological_order(successors, list(graph.steps))
    if found is not None:
        return found
    cycle = graphs.find_cycle(successors, list(graph.steps))
    assert cycle is not None, "no topological order means a cycle"
    path = " -> ".join(cycle)
    message = f"self.next calls form a cycle through steps {path}"
    if any(_is_switch(graph, name) for name in cycle):
        message += " (a switch case may go back only to its own step, as Metaflow allows)"
    graph.error("S107", message, graph.steps[cycle[0]].name.anchor)
    return None


def check_fan_outs(graph: FlowGraph, order: list[str]) -> dict[str, tuple[Frame, ...]] | None:
    """The open fan-outs around each step; every split and foreach must meet in a join."""
    stacks: dict[str, tuple[Frame, ...]] = {}
    ok = True
    for name in order:
        step = graph.steps[name]
        before = {stacks[p] for p in graph.predecessors[name]}
        if name == graph.flow.start:
            stack: tuple[Frame, ...] = ()
        elif step.is_join:
            stack = next(iter(before))
            if len(before) > 1 or not stack:
                graph.error(
                    "S133",
                    f"join step '{name}' does not close one fan-out: its inputs must be the branches "
                    "of one split or the steps of one foreach",
                    step.name.anchor,
                )
                ok = False
                stacks[name] = ()  # reported: go on checking the rest as if it were closed
                continue
            stack = stack[:-1]
        else:
            if len(before) > 1:
                graph.error(
                    "S133",
                    f"step '{name}' is where branches meet: make it a join, def {name}(self, inputs)",
                    step.name.anchor,
                )
                ok = False
                stacks[name] = ()  # reported: go on checking the rest as if it were closed
                continue
            stack = next(iter(before))
        move = step.transition
        if move is not None and move.kind in ("split", "foreach"):
            stack = stack + ((name, move.kind),)
        stacks[name] = stack
        if name == graph.flow.end and stack:
            opener, kind = stack[-1]
            what = "foreach" if kind == "foreach" else "split"
            opened = graph.steps[opener].transition
            message = f"the {what} of step '{opener}' is never joined: add a join step (self, inputs)"
            graph.error("S134", message, opened.anchor if opened else step.name.anchor)
            ok = False
    for name in order:
        step = graph.steps[name]
        if not step.is_join and step.merges:
            graph.error(
                "S133", f"merge_artifacts(inputs) belongs in a join step; '{name}' is not one", step.merges[0].anchor
            )
            ok = False
    return stacks if ok else None


# -- conditions --------------------------------------------------------------------------------


def conditions(graph: FlowGraph, order: list[str]) -> dict[str, Terms] | None:
    """Each step's condition as alternatives of switch choices; branches that meet without a
    join must exclude each other (only a switch's branches do)."""
    keys = {
        s.name.value: [k for k, _ in s.transition.cases]
        for s in graph.flow.steps
        if s.transition is not None and s.transition.kind == "switch"
    }
    terms: dict[str, Terms] = {graph.flow.start: frozenset({frozenset()})}
    ok = True
    for name in order:
        if name == graph.flow.start:
            continue
        incoming: list[Terms] = []
        for pred in graph.predecessors[name]:
            for target, choice in graph.successors[pred]:
                if target == name:
                    extra = frozenset({choice}) if choice else frozenset()
                    incoming.append(frozenset(t | extra for t in terms[pred]))
        step = graph.steps[name]
        if not step.is_join and len(incoming) > 1 and not _exclusive(incoming):
            graph.error(
                "S133",
                f"step '{name}' is where branches that all run meet: make it a join, def {name}(self, inputs)",
                step.name.anchor,
            )
            ok = False
        terms[name] = _simplify(frozenset().union(*incoming), keys)
    return terms if ok else None


def _exclusive(alternatives: list[Terms]) -> bool:
    def apart(a: frozenset[Choice], b: frozenset[Choice]) -> bool:
        return any(s == t and k != j for s, k in a for t, j in b)

    return all(
        apart(a, b)
        for i, first in enumerate(alternatives)
        for second in alternatives[i + 1 :]
        for a in first
        for b in second
    )


def implies(condition: Terms, other: Terms) -> bool:
    """Whether ``other`` holds whenever ``condition`` does (each alternative is narrower)."""
    return all(any(o <= c for o in other) for c in condition)


def _simplify(terms: Terms, keys: dict[str, list[Any]]) -> Terms:
    while True:
        kept = frozenset(t for t in terms if not any(o < t for o in terms))
        folded = set(kept)
        for term in kept:
            for switch, key in term:
                base = term - {(switch, key)}
                siblings = {base | {(switch, k)} for k in keys[switch]}
                if siblings <= kept:
                    folded -= siblings
                    folded.add(base)
                    break
        if folded == set(terms):
            return terms
        terms = frozenset(folded)
