"""The execution plan every backend walks, computed once per pipeline and target.

Between the IR and a target's views sits one :class:`Plan`: which steps run together (a group's
consecutive steps are one task), what each task is called on the target, which loops it sits
in and where their items come from, which tasks come before it, the condition it can be
skipped by, its fused retry, timeout and resources, and which values it publishes for the
conditions downstream. Backends read units; none of them walks ``pipeline.steps`` again.

The job-per-task targets (GitHub Actions, Valohai) run every task on a fresh machine whose
store starts empty; what a task reads is copied in from its ancestors' uploads, so the plan
also says which ancestors' results a task reads (:meth:`Plan.reads`), and
:func:`choose_machine` which machine holds a task.
Ancestry is answered by queries (:meth:`Plan.precedes`, :meth:`Plan.rollback_before`), not
stored as a set per task: a long chain would make those sets quadratic in size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from stepc.ir import Condition, Parameter, Pipeline, Resources, Retry, Step
from stepc.runtime.entry import condition_reads
from stepc.runtime.plan import artifact_refs, path_sources
from stepc.units import parse_bytes, parse_cpu

from .naming import NameRule, assign_names


@dataclass(frozen=True)
class Loop:
    """One fan-out level: where its items come from, a list parameter or an output of a plain
    step. Its index space is that list's indices (the producer publishes them for an output).

    A chained map runs over the same items as the map it follows, so its loop is that map's.
    A nested scope (kind ``paths``) runs over index paths such as ``1/0``, which a lister task
    (:attr:`Unit.lists`) reads from the store once every list of the scope's levels is made:
    ``name`` is then the scope's head.
    """

    kind: Literal["param", "output", "paths"]
    name: str  # the parameter, the artifact, or the nested scope's head
    producer: str | None = None  # the step that writes the artifact (kind "output")


@dataclass(frozen=True)
class NameScheme:
    """How a target names its units: the rule and reserved names, the helper tasks each unit
    may have (named together with the units, so that no helper takes a unit's name), and
    whether a group and a step of the same name keep apart by their keys (``group:x`` and
    ``step:x``, Airflow's task ids) rather than by sharing one name. ``values`` is the rule
    for the names under which condition values are published (``value-...``), if any."""

    rule: NameRule
    reserved: frozenset[str] = frozenset()
    helpers: tuple[str, ...] = ()
    keyed: bool = False
    values: NameRule | None = None


@dataclass(frozen=True)
class Unit:
    """One task on the target: one step, or the consecutive steps of a group fused into one."""

    key: str  # "group:<name>", "step:<name>" or, for a lister, "items:<head>": unique in the pipeline
    name: str  # the target's name for the task
    steps: tuple[Step, ...]  # a lister's: the head of the scope it lists
    # The fan-out the task sits in: it runs once per item (an index, or an index path in a
    # nested scope).
    loops: tuple[Loop, ...] = ()
    upstream: tuple[str, ...] = ()  # units of the data and ordering edges, in plan order
    needs: tuple[str, ...] = ()  # upstream and the units that publish the loops' items, by name
    # The steps' shared effective condition; steps of a group that disagree leave it to
    # `stepc exec`, which skips each step by its own.
    condition: Condition | None = None
    retry: Retry = field(default_factory=Retry)  # the most retries of its steps
    timeout: int | None = None  # seconds of one attempt of every step; None if one has none
    worst_seconds: float | None = None  # every step timing out on every attempt, with waits
    resources: Resources = field(default_factory=Resources)  # the largest need of each kind
    feeds: tuple[tuple[str, str], ...] = ()  # (step, output) whose item lists some fan-out reads
    values: tuple[tuple[str, str], ...] = ()  # (step, output) some condition reads
    helpers: tuple[tuple[str, str], ...] = ()  # helper kind -> its task name
    # A lister runs `stepc exec --items-of <head>` and publishes the item paths of that nested
    # scope: no user code, no condition, no retry.
    lists: str | None = None

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def label(self) -> str:
        """The group's or the step's own name."""
        return self.key.split(":", 1)[1]

    @property
    def loop(self) -> Loop | None:
        """The innermost loop, or None outside every fan-out."""
        return self.loops[-1] if self.loops else None

    def helper(self, kind: str) -> str:
        return dict(self.helpers)[kind]


@dataclass(frozen=True)
class Plan:
    """A pipeline's units for one target, with the tables every view reads: which unit owns a
    step, and the published names of the values conditions read."""

    pipeline: Pipeline
    units: tuple[Unit, ...]  # in topological order; a group stands where its first step stood
    owner: dict[str, Unit]  # step name -> its unit
    value_names: dict[tuple[str, str], str]  # (step, output) -> published name (with a values rule)

    def unit(self, name: str) -> Unit:
        return self._by_name[name]

    def lister(self, loop: Loop) -> Unit:
        """The task publishing the index paths of a ``paths`` loop."""
        return self._listers[loop.name]

    @cached_property
    def _listers(self) -> dict[str, Unit]:
        return {u.lists: u for u in self.units if u.lists is not None}

    @cached_property
    def _by_name(self) -> dict[str, Unit]:
        return {u.name: u for u in self.units}

    @cached_property
    def _places(self) -> dict[str, int]:
        return {u.key: i for i, u in enumerate(self.units)}

    def index(self, unit: Unit) -> int:
        """The unit's 0-based place in plan order."""
        return self._places[unit.key]

    @cached_property
    def params(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.pipeline.params}

    @cached_property
    def values(self) -> tuple[tuple[str, str], ...]:
        """Every (step, output) some condition reads, in plan order."""
        return tuple(pair for unit in self.units for pair in unit.values)

    @cached_property
    def loops(self) -> tuple[Loop, ...]:
        """Every distinct loop, in plan order of first use."""
        return tuple(dict.fromkeys(loop for unit in self.units for loop in unit.loops))

    def reads(self, unit: Unit) -> tuple[str, ...]:
        """The units whose results the unit's `stepc exec` reads, in plan order: its steps'
        inputs' producers, the steps their (effective) conditions read, and the producers of
        the lists of every foreach scope around them. A subset of its ancestors that grows with
        what the steps read, not with the length of the graph: on a job-per-task target the
        downloads of a chain stay linear in all."""
        return self._reads[unit.key]

    @cached_property
    def _reads(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        for unit in self.units:
            steps: set[str] = set()
            if unit.lists is not None:  # a lister reads the lists of its scope's levels only
                steps.update(s.name for s in path_sources(self.pipeline, unit.first))
            for step in () if unit.lists is not None else unit.steps:
                producers = [self.pipeline.step(i.producer) for i in step.inputs]
                producers += [self.pipeline.step(ref.step) for ref in artifact_refs(step.condition)]
                # The item counts of a scope come from its lists' producers: around the step
                # itself, and around a producer whose items it gathers.
                for scoped in (step, *producers):
                    if scoped.scope:
                        head = self.pipeline.step(scoped.scope[-1])
                        steps.update(s.name for s in path_sources(self.pipeline, head))
                steps.update(s.name for s in producers)
            names = {self.owner[s].name for s in steps if s in self.owner} - {unit.name}
            found[unit.key] = tuple(sorted(names, key=lambda n: self.index(self.unit(n))))
        return found

    def precedes(self, name: str, unit: Unit) -> bool:
        """Whether the unit called ``name`` is an ancestor of ``unit``: a search back from
        ``unit`` that stops at units earlier in plan order than ``name`` (they cannot lead to it)."""
        if name not in self._by_name:
            return False
        floor = self.index(self.unit(name))
        seen: set[str] = set()
        todo = list(unit.needs)
        while todo:
            current = todo.pop()
            if current == name:
                return True
            if current not in seen and self.index(self.unit(current)) > floor:
                seen.add(current)
                todo += self.unit(current).needs
        return False

    def rollback_before(self, unit: Unit) -> bool:
        """Whether a step of an ancestor of ``unit`` has a rollback function."""
        return self._rollback_before[unit.key]

    @cached_property
    def _rollback_before(self) -> dict[str, bool]:
        found: dict[str, bool] = {}
        for unit in self.units:  # plan order is topological: every needed unit is done
            found[unit.key] = any(
                found[self.unit(n).key] or (self.unit(n).lists is None and any(s.rollback for s in self.unit(n).steps))
                for n in unit.needs
            )
        return found

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step in the IR's order (a group's steps need not be adjacent there): for
        listings that name steps, not tasks."""
        return self.pipeline.steps

    @cached_property
    def has_rollback(self) -> bool:
        return any(s.rollback for s in self.pipeline.steps)

    @cached_property
    def scope_loops(self) -> dict[str, Loop]:
        """Scope head -> where its items come from, as the scope around it sees them: for a
        scope at the top, its loop (a list parameter, or a plain step's output); for a nested
        one, the output of a step of the enclosing scope, made once per enclosing item."""
        found: dict[str, Loop] = {}
        for step in self.pipeline.steps:
            if not step.scope or step.scope[-1] != step.name:
                continue
            if step.depth == 1:
                loop = loop_of(self.pipeline, step)
                assert loop is not None
                found[step.name] = loop
                continue
            assert step.foreach is not None and step.foreach.source == "input"
            inp = step.input(step.foreach.name)
            assert inp is not None, "the front end checks that foreach names an input"
            found[step.name] = Loop("output", inp.name, inp.producer)
        return found

    def nested_feeds(self, unit: Unit) -> tuple[tuple[str, str], ...]:
        """(step, output) of the unit whose per-item lists a nested scope opens over."""
        return self._nested_feeds.get(unit.key, ())

    @cached_property
    def _nested_feeds(self) -> dict[str, tuple[tuple[str, str], ...]]:
        found: dict[str, set[tuple[str, str]]] = {}
        for head, loop in self.scope_loops.items():
            if self.pipeline.step(head).depth > 1 and loop.producer is not None:
                found.setdefault(self.owner[loop.producer].key, set()).add((loop.producer, loop.name))
        return {key: tuple(sorted(pairs)) for key, pairs in found.items()}

    @cached_property
    def list_producers(self) -> frozenset[str]:
        """Steps whose output some foreach step iterates over directly (a chained map's
        producer among them): their control lines carry the item counts."""
        return frozenset(
            i.producer
            for s in self.pipeline.steps
            if s.foreach is not None
            for i in s.inputs
            if i.name == s.foreach.name
        )


def loop_of(pipeline: Pipeline, step: Step) -> Loop | None:
    """The origin of a foreach step's items, following chained maps back to the first map; a
    step in a nested scope loops over that scope's index paths."""
    if step.depth > 1:
        return Loop("paths", step.scope[-1])
    while step.foreach is not None:
        if step.foreach.source == "param":
            return Loop("param", step.foreach.name)
        inp = step.input(step.foreach.name)
        assert inp is not None, "the front end checks that foreach names an input"
        producer = pipeline.step(inp.producer)
        if producer.foreach is None:
            return Loop("output", inp.name, producer.name)
        step = producer
    return None


def _keys(pipeline: Pipeline) -> dict[str, list[Step]]:
    grouped: dict[str, list[Step]] = {}
    for step in pipeline.steps:
        grouped.setdefault(f"group:{step.group}" if step.group else f"step:{step.name}", []).append(step)
    return grouped


def _names(keys: list[str], scheme: NameScheme) -> dict[str, str]:
    """Unit key (and ``<helper>:<key>``) -> its name on the target."""
    plain = [k.split(":", 1)[1] for k in keys]
    count = Counter(plain)
    wanted: dict[str, str] = {}
    for key, name in zip(keys, plain, strict=True):
        if key.startswith("items:"):  # a lister: NUL keeps it apart from every step, as helpers
            wanted[key] = f"\0paths_{name}"
            continue
        wanted[key] = key if scheme.keyed and count[name] > 1 else name
        for kind in scheme.helpers:
            # A NUL in the original: no step name holds one, so no step can take a helper's name.
            wanted[f"{kind}:{key}"] = f"\0{kind}_{name}"
    names = assign_names(list(wanted.values()), scheme.rule, scheme.reserved)
    return {key: names[text] for key, text in wanted.items()}


def _fed(pipeline: Pipeline) -> dict[str, set[str]]:
    """Plain step -> its outputs that a foreach step fans out over (their item lists are
    published). Only a direct consumer can fan out over an output: a chained map further down
    loops over its origin's items, which that origin's own consumer already named."""
    fed: dict[str, set[str]] = {}
    for step in pipeline.steps:
        if step.foreach is not None and step.foreach.source == "input":
            source = step.input(step.foreach.name)
            if source is not None and pipeline.step(source.producer).foreach is None:
                fed.setdefault(source.producer, set()).add(source.name)
    return fed


def fused_resources(steps: tuple[Step, ...]) -> Resources:
    """What one task running ``steps`` needs: the largest need of each kind."""
    res = [s.resources for s in steps]
    return Resources(
        cpu=max((r.cpu for r in res if r.cpu is not None), default=None),
        memory=max((r.memory for r in res if r.memory is not None), default=None),
        gpu=max((r.gpu for r in res), default=0),
        gpu_type=next((r.gpu_type for r in res if r.gpu_type), None),
        disk=max((r.disk for r in res if r.disk is not None), default=None),
    )


def retry_seconds(step: Step) -> float:
    """The worst-case time of a step with its retries: every attempt times out, then waits."""
    attempts = step.retry.times + 1
    waits = sum(step.retry.wait_before(n) for n in range(1, step.retry.times + 1))
    return (step.timeout or 0) * attempts + waits


def _fused_times(steps: tuple[Step, ...]) -> tuple[Retry, int | None, float | None]:
    retry = max((s.retry for s in steps), key=lambda r: r.times)
    if any(s.timeout is None for s in steps):
        return retry, None, None
    return retry, sum(s.timeout or 0 for s in steps), sum(retry_seconds(s) for s in steps)


def _shared_condition(steps: tuple[Step, ...]) -> Condition | None:
    conditions = {s.condition for s in steps}
    return next(iter(conditions)) if len(conditions) == 1 else None


def _with_listers(pipeline: Pipeline, grouped: dict[str, list[Step]]) -> dict[str, list[Step]]:
    """The unit keys in plan order, each nested scope's lister (``items:<head>``, holding the
    head) just before the unit of its head: after every producer of the scope's lists."""
    keyed: dict[str, list[Step]] = {}
    for key, steps in grouped.items():
        head = steps[0]
        if head.depth > 1 and head.scope[-1] == head.name:
            keyed[f"items:{head.name}"] = [head]
        keyed[key] = steps
    return keyed


def _lister_unit(
    pipeline: Pipeline, key: str, name: str, head: Step, owner_key: dict[str, str], names: dict[str, str]
) -> Unit:
    sources = {owner_key[s.name] for s in path_sources(pipeline, head)}
    upstream = tuple(names[k] for k in sorted(sources, key=list(names).index))
    return Unit(key=key, name=name, steps=(head,), upstream=upstream, needs=tuple(sorted(upstream)), lists=head.name)


def build_plan(pipeline: Pipeline, scheme: NameScheme) -> Plan:
    """The plan of ``pipeline`` for a target naming its tasks by ``scheme``. Linear in the
    pipeline's size, but for the ancestor sets (which a long chain makes quadratic)."""
    grouped = _with_listers(pipeline, _keys(pipeline))
    keys = list(grouped)
    names = _names(keys, scheme)
    owner_key = {s.name: key for key, steps in grouped.items() if not key.startswith("items:") for s in steps}
    place = {key: i for i, key in enumerate(keys)}
    read = condition_reads(pipeline)  # one pass over the conditions, not one per producer
    fed = _fed(pipeline)
    units: list[Unit] = []
    for key in keys:
        steps = tuple(grouped[key])
        name = names[key]
        if key.startswith("items:"):
            units.append(_lister_unit(pipeline, key, name, steps[0], owner_key, names))
            continue
        before = {owner_key[s] for step in steps for s in pipeline.upstream(step.name)} - {key}
        loop = loop_of(pipeline, steps[0])
        origin = {owner_key[loop.producer]} if loop is not None and loop.producer is not None else set()
        if loop is not None and loop.kind == "paths":
            origin = {f"items:{loop.name}"}
        needs = sorted({names[k] for k in (before | origin) - {key}})
        retry, timeout, worst = _fused_times(steps)
        units.append(
            Unit(
                key=key,
                name=name,
                steps=steps,
                loops=(loop,) if loop is not None else (),
                upstream=tuple(names[k] for k in sorted(before, key=place.__getitem__)),
                needs=tuple(needs),
                condition=_shared_condition(steps),
                retry=retry,
                timeout=timeout,
                worst_seconds=worst,
                resources=fused_resources(steps),
                feeds=tuple((s.name, a) for s in steps for a in sorted(fed.get(s.name, ()))),
                values=tuple((s.name, v) for s in steps for v in read.get(s.name, ())),
                helpers=tuple((kind, names[f"{kind}:{key}"]) for kind in scheme.helpers),
            )
        )
    owner = {s.name: unit for unit in units if unit.lists is None for s in unit.steps}
    pairs = [pair for unit in units for pair in unit.values]
    value_names = name_values(pairs, scheme.values) if scheme.values is not None else {}
    return Plan(pipeline, tuple(units), owner, value_names)


def name_values(pairs: list[tuple[str, str]], rule: NameRule) -> dict[tuple[str, str], str]:
    """(step, output) -> the engine-side name (``value-...``) publishing the value a downstream
    condition reads, valid under ``rule`` and unique."""
    texts = {pair: "\0".join(pair) for pair in pairs}  # NUL: no name holds one, so no clash
    names = assign_names(list(texts.values()), rule)
    return {pair: f"value-{names[text]}" for pair, text in texts.items()}


# --- what machines hold ----------------------------------------------------------------------


def store_segment(name: str) -> str:
    """A step name as the store spells it in paths (see ``stepc.runtime.store``): percent-quoted,
    so that it is one safe path segment and contains no glob character."""
    from stepc.runtime.layout import step_segment

    return step_segment(name)


def fits(resources: Resources, capacity: dict[str, Any]) -> bool:
    """Whether a machine of this capacity holds these resources; a capacity without a cpu
    or memory key puts no limit on it, one without gpu has none."""
    r = resources
    if r.gpu > int(capacity.get("gpu", 0)):
        return False
    if "cpu" in capacity and (r.cpu or 0) > parse_cpu(capacity["cpu"]):
        return False
    return not ("memory" in capacity and (r.memory or 0) > parse_bytes(capacity["memory"]))


def choose_machine(
    resources: Resources, default_capacity: dict[str, Any], table: list[Any], key: str
) -> tuple[Any, bool]:
    """The resource map: ``(None, True)`` when the default machine holds the resources, else
    the ``key`` value of the first table entry that does (fewest GPUs first) and True, else
    ``(None, False)``: nothing configured holds them."""
    if fits(resources, default_capacity):
        return None, True
    fitting = [t for t in table if isinstance(t, dict) and key in t and fits(resources, t)]
    if not fitting:
        return None, False
    return min(fitting, key=lambda t: int(t.get("gpu", 0)))[key], True
