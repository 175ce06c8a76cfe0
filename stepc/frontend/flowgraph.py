"""A flow class's graph to IR: structure checks, artifact flow and switch conditions (SPEC §3).

Metaflow's rules, checked statically: ``start`` and ``end`` exist, every other step ends in
``self.next``, every step is reachable, the branches of a split or foreach meet in a join
(a step taking ``inputs``), and only the exclusive branches of a switch meet without one.

Artifacts follow Metaflow: what a step sets on ``self`` reaches its successors, and passes
through steps that do not set it again; a join starts with an empty ``self`` and sees each
branch's artifacts in ``inputs``. Statically, an attribute read by a step has the set of steps
whose value may reach it (several after a switch: whichever branch ran). Each becomes an IR
input from that producer, so no value is copied from step to step at run time.

A step's condition is where the switches before it went: a set of alternatives, each a set
of (switch step, case) choices; alternatives that cover every case of a switch fold back.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stepc.declarations import Named, Reporter
from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.frontend.flowdecl import FlowDecl, FlowStepDecl
from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Const,
    Edge,
    Foreach,
    Input,
    InputMode,
    Parameter,
    ParamRef,
    Pipeline,
    Resources,
    Retry,
    Step,
    conjoin,
)

RESERVED_NAMES = frozenset({"name", "next", "input", "index", "cmd"})  # attributes of every flow object
Choice = tuple[str, Any]  # (switch step, case key)
Terms = frozenset[frozenset[Choice]]  # OR of ANDs
Reaching = dict[str, tuple[str, ...]]  # attribute -> the steps whose value may arrive
Frame = tuple[str, str]  # (step that split, "split" | "foreach"): an open fan-out


@dataclass
class _Graph:
    flow: FlowDecl
    reporter: Reporter
    steps: dict[str, FlowStepDecl]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    successors: dict[str, list[tuple[str, Choice | None]]] = field(default_factory=dict)
    predecessors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, code: str, message: str, anchor: object) -> None:
        self.diagnostics.append(self.reporter.diagnostic(code, message, anchor))


def build_pipeline(flow: FlowDecl, reporter: Reporter) -> tuple[Pipeline | None, list[Diagnostic]]:
    """The IR pipeline of a flow class, or None with the diagnostics that say why not."""
    graph = _Graph(flow, reporter, {s.name.value: s for s in flow.steps})
    if not _link(graph):
        return None, graph.diagnostics
    order = _order(graph)
    if order is None:
        return None, graph.diagnostics
    stacks = _check_fan_outs(graph, order)
    terms = _conditions(graph, order)
    if stacks is None or terms is None:
        return None, graph.diagnostics
    params = {p.name: p for p in flow.params}
    wiring = _Wiring(graph, stacks, terms, params, order)
    steps = [wiring.step(graph.steps[name]) for name in order]
    if graph.diagnostics:
        return None, graph.diagnostics
    edges = {Edge(i.producer, s.name, i.name) for s in steps for i in s.inputs}
    linked = {(e.source, e.target) for e in edges}
    edges |= {Edge(p, s.name) for s in steps for p in s.after if (p, s.name) not in linked}
    return (
        Pipeline(
            name=flow.name.value,
            source=flow.path,
            module=flow.module,
            steps=tuple(steps),
            edges=tuple(sorted(edges, key=lambda e: (e.source, e.target, e.artifact or ""))),
            params=tuple(
                Parameter(p.name, p.type, p.default, p.required, p.item_type, p.description)
                for p in sorted(flow.params, key=lambda p: p.name)
            ),
            description=flow.description,
            schedule=flow.schedule,
            image=flow.default_image,
        ),
        graph.diagnostics,
    )


# -- structure ---------------------------------------------------------------------------------


def _link(graph: _Graph) -> bool:
    """Successors and predecessors from the ``self.next`` calls; False when the graph is unusable."""
    ok = True
    for required in ("start", "end"):
        if required not in graph.steps:
            graph.error("S130", f"flow '{graph.flow.name.value}' has no '{required}' step", graph.flow.name.anchor)
            ok = False
    for step in graph.flow.steps:
        graph.successors[step.name.value] = []
        graph.predecessors.setdefault(step.name.value, [])
    for step in graph.flow.steps:
        move = step.transition
        if move is None:
            ok = ok and (step.name.value == "end")
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
            choice = (step.name.value, key) if move.kind == "switch" else None
            graph.successors[step.name.value].append((target.value, choice))
            if step.name.value not in graph.predecessors[target.value]:
                graph.predecessors[target.value].append(step.name.value)
    if not ok or not _check_shapes(graph):
        return False
    reached = {"start"}
    frontier = ["start"]
    while frontier:
        for successor, _ in graph.successors[frontier.pop()]:
            if successor not in reached:
                reached.add(successor)
                frontier.append(successor)
    for step in graph.flow.steps:
        if step.name.value not in reached:
            graph.error(
                "S132",
                f"step '{step.name.value}' is unreachable: no self.next leads to it from start",
                step.name.anchor,
            )
    return len(reached) == len(graph.steps)


def _check_shapes(graph: _Graph) -> bool:
    """Metaflow's rules on each step's own shape (the graph's are checked by the walks after)."""
    ok = True
    for step in graph.flow.steps:
        name, move = step.name.value, step.transition
        problem = None
        if name in RESERVED_NAMES:
            problem = ("S103", f"'{name}' is a reserved name on a flow (self.{name}): rename the step")
        elif name == "start" and graph.predecessors[name]:
            problem = ("S131", f"start is where the flow begins: step '{graph.predecessors[name][0]}' cannot go to it")
        elif step.is_join and name == "end":
            problem = ("S133", "end cannot be a join step: add a join step before it")
        elif step.is_join and move is not None and move.kind != "linear":
            problem = ("S133", f"join step '{name}' cannot also fan out or switch: add a step after it that does")
        elif step.is_join and any(_is_switch(graph, p) for p in graph.predecessors[name]):
            problem = ("S133", f"a switch cannot go straight to join step '{name}': add a step on that branch")
        elif move is not None and move.kind == "foreach" and graph.steps[move.targets[0].value].is_join:
            graph.error("S134", "a foreach needs a step between it and its join, to run for each item", move.anchor)
            ok = False
        if problem is not None:
            graph.error(problem[0], problem[1], step.name.anchor)
            ok = False
    return ok


def _is_switch(graph: _Graph, name: str) -> bool:
    move = graph.steps[name].transition
    return move is not None and move.kind == "switch"


def _order(graph: _Graph) -> list[str] | None:
    """Topological order, ties broken by declaration order; a cycle is reported."""
    index = {name: i for i, name in enumerate(graph.steps)}
    names = list(graph.steps)
    waiting = {name: len(graph.predecessors[name]) for name in names}
    ready = [index[n] for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for target in dict.fromkeys(t for t, _ in graph.successors[name]):
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, index[target])
    if len(order) == len(names):
        return order
    stuck = [n for n in names if n not in order]
    path = " -> ".join(stuck + [stuck[0]])
    graph.error("S107", f"self.next calls form a cycle through steps {path}", graph.steps[stuck[0]].name.anchor)
    return None


def _check_fan_outs(graph: _Graph, order: list[str]) -> dict[str, tuple[Frame, ...]] | None:
    """The open fan-outs around each step; every split and foreach must meet in a join."""
    stacks: dict[str, tuple[Frame, ...]] = {}
    ok = True
    for name in order:
        step = graph.steps[name]
        before = {stacks[p] for p in graph.predecessors[name]}
        if name == "start":
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
            opener, kind = stack[-1]
            if kind == "foreach" and (
                len(graph.predecessors[name]) != 1
                or graph.predecessors[name][0] not in [t for t, _ in graph.successors[opener]]
            ):
                graph.error(
                    "S135",
                    f"stepc runs one step per foreach item: the step after the foreach of "
                    f"'{opener}' must go straight to join '{name}'",
                    step.name.anchor,
                )
                ok = False
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
            if move.kind == "foreach" and any(kind == "foreach" for _, kind in stack):
                graph.error("S135", "a foreach inside a foreach is not supported by stepc", move.anchor)
                ok = False
            stack = stack + ((name, move.kind),)
        stacks[name] = stack
        if name == "end" and stack:
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


def _conditions(graph: _Graph, order: list[str]) -> dict[str, Terms] | None:
    """Each step's condition as alternatives of switch choices; branches that meet without a
    join must exclude each other (only a switch's branches do)."""
    keys = {
        s.name.value: [k for k, _ in s.transition.cases]
        for s in graph.flow.steps
        if s.transition is not None and s.transition.kind == "switch"
    }
    terms: dict[str, Terms] = {"start": frozenset({frozenset()})}
    ok = True
    for name in order:
        if name == "start":
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


def _implies(condition: Terms, other: Terms) -> bool:
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


# -- artifacts and IR steps --------------------------------------------------------------------


class _Wiring:
    """Follows the artifacts along the graph (in topological order) and builds each IR step."""

    def __init__(
        self,
        graph: _Graph,
        stacks: dict[str, tuple[Frame, ...]],
        terms: dict[str, Terms],
        params: dict[str, Any],
        order: list[str],
    ) -> None:
        self.graph = graph
        self.stacks = stacks
        self.terms = terms
        self.params = params
        self.after: dict[str, Reaching] = {}  # what self holds when each step ends
        self.refs: dict[str, ParamRef | ArtifactRef] = {}  # switch step -> what its condition reads
        self.rank = {name: i for i, name in enumerate(order)}

    def _arriving(self, name: str) -> Reaching:
        merged: dict[str, list[str]] = {}
        for pred in self.graph.predecessors[name]:
            for attr, producers in self.after[pred].items():
                merged.setdefault(attr, [])
                merged[attr].extend(p for p in producers if p not in merged[attr])
        return {k: tuple(v) for k, v in merged.items()}

    def step(self, decl: FlowStepDecl) -> Step:
        name = decl.name.value
        writes = {w.value for w in decl.writes}
        for written in decl.writes:
            if written.value in self.params:
                self.graph.error(
                    "S137", f"'{written.value}' is a Parameter: parameters cannot be set in a step", written.anchor
                )
        inputs: dict[tuple[str, str], Input] = {}
        foreach: Foreach | None = None
        if decl.is_join:
            inputs = self._join_inputs(decl)
            arriving: Reaching = {}
            writes |= self._merged(decl, inputs.values())
        else:
            arriving = self._arriving(name) if name != "start" else {}
            foreach = self._foreach_of(decl, arriving, inputs)
        self._check_foreach_api(decl)
        for attr in sorted(arriving) if decl.reads_any else decl.soft_reads:
            self._take(name, attr, arriving.get(attr, ()), inputs)
        for read in decl.reads:
            producers = arriving.get(read.value)
            if producers:
                self._take(name, read.value, producers, inputs)
            elif read.value not in self.params and read.value not in writes:
                known = sorted(set(arriving) | set(self.params))
                self.graph.error(
                    "S136",
                    f"step '{name}' reads self.{read.value}, which no step before it sets"
                    f"{did_you_mean(read.value, known)}",
                    read.anchor,
                )
        after = dict(arriving)
        after.update({w: (name,) for w in writes})
        self.after[name] = after
        self._switch_ref(decl, after)
        upstream = {i.producer for i in inputs.values()}
        return Step(
            name=name,
            function=decl.function,
            kind="flowspec",
            inputs=tuple(inputs.values()),
            outputs=tuple(sorted(writes)),
            params=tuple(sorted(self.params)),
            after=tuple(p for p in self.graph.predecessors[name] if p not in upstream),
            foreach=foreach,
            condition=self._condition(name),
            retry=decl.retry or Retry(),
            timeout=decl.timeout,
            code_hash=decl.code_hash,
            resources=decl.resources or Resources(),
            image=decl.image or self.graph.flow.default_image,
            env=decl.env,
            catch=decl.catch,
            description=decl.description,
            span=decl.span,
        )

    def _take(self, name: str, attr: str, producers: Iterable[str], inputs: dict[tuple[str, str], Input]) -> None:
        """Inputs of ``attr`` from each step whose value may arrive (optional where it may not)."""
        for producer in producers:
            optional = not _implies(self.terms[name], self.terms[producer])
            inputs.setdefault((attr, producer), Input(attr, producer, "value", optional))

    def _foreach_of(
        self, decl: FlowStepDecl, arriving: Reaching, inputs: dict[tuple[str, str], Input]
    ) -> Foreach | None:
        preds = self.graph.predecessors[decl.name.value]
        opener = self.graph.steps[preds[0]] if len(preds) == 1 else None
        move = opener.transition if opener else None
        if move is None or move.kind != "foreach" or move.foreach is None:
            return None
        attr = move.foreach.value
        producers = arriving.get(attr, ())
        if len(producers) != 1:
            problem = "no step before the foreach sets it" if not producers else "several steps may set it"
            self.graph.error("S136", f"foreach over self.{attr}: {problem}", move.foreach.anchor)
            return None
        inputs[(attr, producers[0])] = Input(attr, producers[0], "item")
        return Foreach("input", attr)

    def _join_inputs(self, decl: FlowStepDecl) -> dict[tuple[str, str], Input]:
        """Every artifact of every branch, each noting the branches (views) that carry it."""
        name = decl.name.value
        preds = self.graph.predecessors[name]
        opener, kind = self.stacks[preds[0]][-1]
        views: dict[tuple[str, str], list[str]] = {}
        for pred in preds:
            for attr, producers in sorted(self.after[pred].items()):
                for producer in producers:
                    views.setdefault((attr, producer), []).append(pred)
        inputs: dict[tuple[str, str], Input] = {}
        for (attr, producer), via in views.items():
            gathered = kind == "foreach" and producer in preds
            mode: InputMode = "gather" if gathered else "value"
            optional = not _implies(self.terms[name], self.terms[producer])
            inputs[(attr, producer)] = Input(attr, producer, mode, optional, tuple(via))
        return inputs

    def _merged(self, decl: FlowStepDecl, inputs: Iterable[Input]) -> set[str]:
        available = {i.name for i in inputs}
        merged: set[str] = set()
        for merge in decl.merges:
            for missing in sorted(set(merge.include) - available):
                self.graph.error(
                    "S136", f"merge_artifacts include names '{missing}', which no branch sets", merge.anchor
                )
            chosen = set(merge.include) & available if merge.include else available - set(merge.exclude)
            merged |= chosen - set(self.params)
        return merged

    def _check_foreach_api(self, decl: FlowStepDecl) -> None:
        use = decl.foreach_api
        if use is None or use.value == "foreach_stack":
            return
        stack = self.stacks[decl.name.value]
        if not stack or stack[-1][1] != "foreach" or decl.is_join:
            self.graph.error(
                "S134", f"self.{use.value} is only set in the step a foreach runs for each item", use.anchor
            )

    def _switch_ref(self, decl: FlowStepDecl, after: Reaching) -> None:
        move = decl.transition
        if move is None or move.kind != "switch" or move.condition is None:
            return
        attr = move.condition.value
        producers = after.get(attr, ())
        if len(producers) == 1:
            self.refs[decl.name.value] = ArtifactRef(producers[0], attr)
        elif not producers and attr in self.params:
            self.refs[decl.name.value] = ParamRef(attr)
        elif producers:  # none at all was reported as a read that nothing sets
            self.graph.error(
                "S135",
                f"switch condition self.{attr} may come from several steps ({', '.join(producers)}): set it in "
                f"step '{decl.name.value}' itself",
                move.condition.anchor,
            )

    def _condition(self, name: str) -> Condition | None:
        def in_order(term: frozenset[Choice]) -> list[Choice]:  # the earlier switch first
            return sorted(term, key=lambda choice: (self.rank[choice[0]], repr(choice[1])))

        alternatives: list[Condition | None] = []
        for term in sorted(self.terms[name], key=lambda t: [(self.rank[s], repr(k)) for s, k in in_order(t)]):
            parts: list[Condition | None] = []
            for switch, key in in_order(term):
                ref = self.refs.get(switch)
                if ref is None:
                    return None  # reported at the switch
                parts.append(Compare("==", ref, Const(key)))
            alternatives.append(conjoin(parts))
        if any(a is None for a in alternatives):
            return None
        present = [a for a in alternatives if a is not None]
        return present[0] if len(present) == 1 else BoolOp("or", tuple(present))
