"""The task plan the backends share: which steps run together (a group is one task), where a
fan-out gets its list, which tasks come before which, and where a task's results sit in the
store.

The job-per-task targets (GitHub Actions, Valohai) run every task on a fresh machine whose
store starts empty; what a task reads is copied in from its ancestors' uploads, so the plan
also says which tasks are ancestors, and which machine holds a task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from stepc.ir import Pipeline, Step
from stepc.units import parse_bytes, parse_cpu

from .naming import NameRule, assign_names


@dataclass(frozen=True)
class Unit:
    """One job or node: one step, or the consecutive steps of a group."""

    name: str
    steps: tuple[Step, ...]

    @property
    def first(self) -> Step:
        return self.steps[0]


@dataclass(frozen=True)
class Loop:
    """Where a fan-out's items come from: a list parameter, or an output of a plain step.

    A chained map runs over the same items as the map it follows, so its loop is that map's.
    """

    kind: str  # "param" or "output"
    name: str  # the parameter or the artifact
    producer: str | None = None  # the step that writes the artifact (kind "output")


def group_units(pipeline: Pipeline, rule: NameRule, reserved: frozenset[str] = frozenset()) -> list[Unit]:
    """Units in topological order; a group's unit stands where its first step stood."""
    grouped: dict[str, list[Step]] = {}
    order: list[str] = []
    for step in pipeline.steps:
        key = f"group:{step.group}" if step.group else f"step:{step.name}"
        if key not in grouped:
            grouped[key] = []
            order.append(key)
        grouped[key].append(step)
    names = assign_names([k.split(":", 1)[1] for k in order], rule, reserved)
    return [Unit(names[k.split(":", 1)[1]], tuple(grouped[k])) for k in order]


def loop_of(pipeline: Pipeline, step: Step) -> Loop | None:
    """The origin of a foreach step's items, following chained maps back to the first map."""
    if step.foreach is None:
        return None
    while True:  # a loop, not recursion: a chain of maps may be thousands long
        assert step.foreach is not None
        if step.foreach.source == "param":
            return Loop("param", step.foreach.name)
        inp = step.input(step.foreach.name)
        assert inp is not None, "the front end checks that foreach names an input"
        producer = pipeline.step(inp.producer)
        if producer.foreach is None:
            return Loop("output", inp.name, producer.name)
        step = producer


def unit_of(units: list[Unit]) -> dict[str, Unit]:
    """Step name -> its unit."""
    return {step.name: unit for unit in units for step in unit.steps}


def upstream_units(pipeline: Pipeline, unit: Unit, owner: dict[str, Unit]) -> list[str]:
    """Units that must finish before ``unit``: data and ordering edges, and the loop's origin."""
    names = {owner[s].name for step in unit.steps for s in pipeline.upstream(step.name)}
    loop = loop_of(pipeline, unit.first)
    if loop is not None and loop.producer is not None:
        names.add(owner[loop.producer].name)
    names.discard(unit.name)
    return sorted(names)


def reachable(edges: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every node reached from ``start`` (itself left out unless on a cycle), walked with a stack:
    no recursion limit, each node and edge visited once."""
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def ancestry(pipeline: Pipeline, units: list[Unit]) -> Callable[[str], frozenset[str]]:
    """Unit name -> every unit before it (transitively), worked out when first asked for a unit.

    A task may read more than its direct producers: a condition on an upstream artifact reads a
    value that an ancestor published. Only such tasks ask, so the table is never built whole:
    for a long chain it is quadratic in size.
    """
    owner = unit_of(units)
    direct = {unit.name: upstream_units(pipeline, unit, owner) for unit in units}
    known: dict[str, frozenset[str]] = {}

    def before(name: str) -> frozenset[str]:
        if name not in known:
            known[name] = frozenset(reachable(direct, name))
        return known[name]

    return before


def feeds(pipeline: Pipeline, step: Step) -> list[str]:
    """Outputs of ``step`` that some foreach step fans out over (their item lists are published).

    Only a direct consumer can fan out over an output: a chained map further down loops over
    its origin's items, which that origin's own consumer already named.
    """
    if step.foreach is not None:
        return []
    names: set[str] = set()
    for name in pipeline.downstream(step.name):
        other = pipeline.step(name)
        if other.foreach is not None and other.foreach.source == "input":
            source = other.input(other.foreach.name)
            if source is not None and source.producer == step.name:
                names.add(source.name)
    return sorted(names)


def store_segment(name: str) -> str:
    """A step name as the store spells it in paths (see ``stepc.runtime.store``): percent-quoted,
    so that it is one safe path segment and contains no glob character."""
    return quote(name, safe="") if name not in (".", "..") else quote(name.replace(".", "%2E"))


def retry_seconds(step: Step) -> float:
    """The worst-case time of a step with its retries: every attempt times out, then waits."""
    attempts = step.retry.times + 1
    waits = sum(step.retry.wait_before(n) for n in range(1, step.retry.times + 1))
    return (step.timeout or 0) * attempts + waits


def fits(steps: tuple[Step, ...], capacity: dict[str, Any]) -> bool:
    """Whether a machine of this capacity holds the steps' resources; a capacity without a cpu
    or memory key puts no limit on it, one without gpu has none."""
    for step in steps:
        r = step.resources
        if r.gpu > int(capacity.get("gpu", 0)):
            return False
        if "cpu" in capacity and (r.cpu or 0) > parse_cpu(capacity["cpu"]):
            return False
        if "memory" in capacity and (r.memory or 0) > parse_bytes(capacity["memory"]):
            return False
    return True


def choose_machine(
    steps: tuple[Step, ...], default_capacity: dict[str, Any], table: list[Any], key: str
) -> tuple[Any, bool]:
    """The resource map: ``(None, True)`` when the default machine holds the steps, else the
    ``key`` value of the first table entry that does (fewest GPUs first) and True, else
    ``(None, False)``: nothing configured holds them."""
    if fits(steps, default_capacity):
        return None, True
    fitting = [t for t in table if isinstance(t, dict) and key in t and fits(steps, t)]
    if not fitting:
        return None, False
    return min(fitting, key=lambda t: int(t.get("gpu", 0)))[key], True
