"""A flow class to IR: artifact flow along its graph, and switch conditions (SPEC §3).

The graph's shape is checked first (:mod:`stepc.frontend.flowshape`). Artifacts follow
Metaflow: what a step sets on ``self`` reaches its successors, and passes through steps that
do not set it again; a join starts with an empty ``self`` and sees each branch's artifacts in
``inputs``. Statically, an attribute read by a step has the set of steps whose value may
reach it (several after a switch: whichever branch ran). Each becomes an IR input from that
producer, so no value is copied from step to step at run time.
"""

from __future__ import annotations

from collections.abc import Iterable

from stepc.declarations import ParamDecl, Reporter
from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.frontend import flowshape as shape
from stepc.frontend.flowdecl import FlowDecl, FlowStepDecl
from stepc.frontend.flowshape import Choice, FlowGraph, Frame, Terms, implies
from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Const,
    Edge,
    FlowConfig,
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
    freeze,
)

Reaching = dict[str, tuple[str, ...]]  # attribute -> the steps whose value may arrive


def build_pipeline(flow: FlowDecl, reporter: Reporter) -> tuple[Pipeline | None, list[Diagnostic]]:
    """The IR pipeline of a flow class, or None with the diagnostics that say why not."""
    graph = FlowGraph(flow, reporter, {s.name.value: s for s in flow.steps})
    if not shape.link(graph):
        return None, graph.diagnostics
    order = shape.order(graph)
    if order is None:
        return None, graph.diagnostics
    stacks = shape.check_fan_outs(graph, order)
    terms = shape.conditions(graph, order)
    if stacks is None or terms is None:
        return None, graph.diagnostics
    params = {p.attr: p for p in flow.params}  # steps read a parameter by its attribute
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
                Parameter(
                    p.name,
                    p.type,
                    p.default,
                    p.required,
                    p.item_type,
                    p.description,
                    p.separator,
                    p.file,
                    p.default_expr,
                )  # fmt: skip
                for p in sorted(flow.params, key=lambda p: p.name)
            ),
            description=flow.description,
            schedule=flow.schedule,
            image=flow.default_image,
            project=flow.project,
            configs=tuple(FlowConfig(c.name, c.attribute, freeze(c.value), c.plain) for c in flow.configs),
        ),
        graph.diagnostics,
    )


# -- artifacts and IR steps --------------------------------------------------------------------


class _Wiring:
    """Follows the artifacts along the graph (in topological order) and builds each IR step."""

    def __init__(
        self,
        graph: FlowGraph,
        stacks: dict[str, tuple[Frame, ...]],
        terms: dict[str, Terms],
        params: dict[str, ParamDecl],
        order: list[str],
    ) -> None:
        self.graph = graph
        self.stacks = stacks
        self.terms = terms
        self.params = params
        self.after: dict[str, Reaching] = {}  # what self holds when each step ends
        self.refs: dict[str, ParamRef | ArtifactRef] = {}  # switch step -> what its condition reads
        self.rank = {name: i for i, name in enumerate(order)}
        self.openers: dict[str, str] = {}  # scope head -> the step whose foreach opens the scope
        self.scopes = {name: self._scope_of(name) for name in order}
        self.lists: dict[str, Input] = {}  # scope head -> the item input of the list it splits

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
        if decl.is_join:
            inputs = self._join_inputs(decl)
            arriving: Reaching = {}
            writes |= self._merged(decl, inputs.values())
        else:
            arriving = self._arriving(name) if name != self.graph.flow.start else {}
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
            params=tuple(sorted(p.name for p in self.params.values())),
            # A join lists every branch, in order: a branch with no artifacts still has its view.
            after=tuple(p for p in self.graph.predecessors[name] if decl.is_join or p not in upstream),
            foreach=foreach,
            scope=self.scopes[name],
            condition=self._condition(name),
            repeat=self._repeat(name),
            retry=decl.retry or Retry(),
            timeout=decl.timeout,
            code_hash=decl.code_hash,
            resources=decl.resources or Resources(),
            image=decl.image or self.graph.flow.default_image,
            env=decl.env,
            engine=decl.engine,
            secrets=decl.secrets,
            catch=decl.catch,
            description=decl.description,
            span=decl.span,
        )

    def _take(self, name: str, attr: str, producers: Iterable[str], inputs: dict[tuple[str, str], Input]) -> None:
        """Inputs of ``attr`` from each step whose value may arrive (optional where it may not)."""
        scope = self.scopes[name]
        for producer in producers:
            optional = not implies(self.terms[name], self.terms[producer])
            mode: InputMode = "item" if scope and self.scopes[producer] == scope else "value"
            inputs.setdefault((attr, producer), Input(attr, producer, mode, optional))

    def _foreach_of(
        self, decl: FlowStepDecl, arriving: Reaching, inputs: dict[tuple[str, str], Input]
    ) -> Foreach | None:
        """For a step inside a foreach scope: the innermost scope's list, which every step of
        the scope reads as an item input (its head from the list's producer, found here)."""
        name = decl.name.value
        scope = self.scopes[name]
        if not scope:
            return None
        head = scope[-1]
        move = self.graph.steps[self.openers[head]].transition
        if move is None or move.foreach is None:
            return None
        attr = move.foreach.value
        if name == head:
            producers = arriving.get(attr, ())
            if len(producers) != 1:  # reported once, at the foreach
                problem = "no step before the foreach sets it" if not producers else "several steps may set it"
                self.graph.error("S136", f"foreach over self.{attr}: {problem}", move.foreach.anchor)
                return None
            self.lists[head] = Input(attr, producers[0], "item")
        source = self.lists.get(head)
        if source is None:
            return None  # reported at the head
        key = (attr, source.producer)
        # A join sees the list in every view, as each branch passed it on.
        views = tuple(self.graph.predecessors[name]) if decl.is_join else ()
        inputs[key] = Input(attr, source.producer, "item", False, inputs[key].views if key in inputs else views)
        return Foreach("input", attr)

    def _scope_of(self, name: str) -> tuple[str, ...]:
        """The foreach scopes around ``name``, outermost first, each named by its head (the
        step the foreach goes to); a step's own fan-out is not around it."""
        frames = self.stacks[name]
        if frames and frames[-1][0] == name:
            frames = frames[:-1]
        heads = []
        for opener, kind in frames:
            if kind == "foreach":
                move = self.graph.steps[opener].transition
                assert move is not None and move.targets, "a foreach frame comes from a foreach transition"
                head = move.targets[0].value
                self.openers[head] = opener
                heads.append(head)
        return tuple(heads)

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
        scope = self.scopes[name]
        for (attr, producer), via in views.items():
            gathered = kind == "foreach" and len(self.scopes[producer]) > len(scope)
            mode: InputMode = "gather" if gathered else "item" if scope and self.scopes[producer] == scope else "value"
            optional = not implies(self.terms[name], self.terms[producer])
            inputs[(attr, producer)] = Input(attr, producer, mode, optional, tuple(via))
        return inputs

    def _merged(self, decl: FlowStepDecl, inputs: Iterable[Input]) -> set[str]:
        available = {i.name for i in inputs}
        merged: set[str] = set()
        for merge in decl.merges:
            # Parameters reach every step in Metaflow: including one merges nothing, and is no error.
            for missing in sorted(set(merge.include) - available - set(self.params)):
                self.graph.error(
                    "S136", f"merge_artifacts include names '{missing}', which no branch sets", merge.anchor
                )
            chosen = set(merge.include) & available if merge.include else available - set(merge.exclude)
            merged |= chosen - set(self.params)
        return merged

    def _check_foreach_api(self, decl: FlowStepDecl) -> None:
        use = decl.foreach_api
        if use is not None and use.value != "foreach_stack" and not self.scopes[decl.name.value]:
            message = f"self.{use.value} is only set in the steps a foreach runs for each item"
            self.graph.error("S134", message, use.anchor)

    def _switch_ref(self, decl: FlowStepDecl, after: Reaching) -> None:
        move = decl.transition
        if move is None or move.kind != "switch" or move.condition is None:
            return
        attr = move.condition.value
        producers = after.get(attr, ())
        if len(producers) == 1:
            self.refs[decl.name.value] = ArtifactRef(producers[0], attr)
        elif not producers and attr in self.params:
            self.refs[decl.name.value] = ParamRef(self.params[attr].name)
        elif producers:  # none at all was reported as a read that nothing sets
            self.graph.error(
                "S135",
                f"switch condition self.{attr} may come from several steps ({', '.join(producers)}): set it in "
                f"step '{decl.name.value}' itself",
                move.condition.anchor,
            )

    def _repeat(self, name: str) -> Condition | None:
        """A recursive switch's condition to run the step again: its condition is a case that
        goes back to it."""
        keys = self.graph.repeats.get(name)
        ref = self.refs.get(name)
        if not keys or ref is None:
            return None  # no recursion, or reported at the switch
        cases = [Compare("==", ref, Const(key)) for key in keys]
        return cases[0] if len(cases) == 1 else BoolOp("or", tuple(cases))

    def _condition(self, name: str) -> Condition | None:
        def inorder(term: frozenset[Choice]) -> list[Choice]:  # the earlier switch first
            return sorted(term, key=lambda choice: (self.rank[choice[0]], repr(choice[1])))

        alternatives: list[Condition | None] = []
        for term in sorted(self.terms[name], key=lambda t: [(self.rank[s], repr(k)) for s, k in inorder(t)]):
            parts: list[Condition | None] = []
            for switch, key in inorder(term):
                ref = self.refs.get(switch)
                if ref is None:
                    return None  # reported at the switch
                parts.append(Compare("==", ref, Const(key)))
            alternatives.append(conjoin(parts))
        if any(a is None for a in alternatives):
            return None
        present = [a for a in alternatives if a is not None]
        return present[0] if len(present) == 1 else BoolOp("or", tuple(present))
