"""Argo's frames: each foreach scope of the plan is a DAG template, run once per item.

The ``main`` DAG holds the units outside every foreach and one task per top-level scope, which
calls the scope's template with ``withParam`` (or ``withSequence``) over the scope's items,
through a small DAG template of its own (``fanout-<head>``) whose ``parallelism`` is the scope's
``max_parallel``: Argo's parallelism bounds a template's children, so this one bounds the items
of that fan-out and nothing beside it (the calling task hands it the item list). A
scope's template holds the units of that scope, each run once with the template's ``item``,
and one task per scope nested in it, whose items are the per-item list a unit of the template
publishes (the nested item is ``<outer>/<inner>``). So one item's chain goes on as soon as its
own steps are done, without waiting for the other items, and a nested foreach needs no lister.

A frame sees only its own tasks: a dependency on a unit in a deeper scope is one on the task
calling that scope, and one outside the frame is the calling task's (it starts the frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from stepc import graphs
from stepc.fanout import foreach_limit

from .argo_expr import string_literal
from .naming import NameRule, assign_names
from .plan import Loop, Plan, Unit

if TYPE_CHECKING:
    from .argo_views import TaskView

Path = tuple[str, ...]  # a scope path, outermost head first; () is main


@dataclass
class Frame:
    """One DAG template: the units of one scope (or of none) and the scopes directly inside it."""

    path: Path
    name: str
    members: list[str] = field(default_factory=list)  # unit names and scope-call names, plan order
    needs: dict[str, set[str]] = field(default_factory=dict)  # member -> the members it waits for


@dataclass(frozen=True)
class DagView:
    """One DAG template as the Argo template renders it."""

    name: str
    takes_item: bool
    tasks: list[TaskView]
    takes_iteration: bool = False  # a recursive switch's passes: pass N, then N+1 while it loops
    takes_items: bool = False  # a fan-out's template: the list its task loops over
    parallelism: int | None = None  # the most children running at once


def _path(unit: Unit) -> Path:
    return unit.first.scope


class Frames:
    """The frames of a plan: which template each unit runs in, and every frame's dependencies."""

    def __init__(self, plan: Plan, rule: NameRule, reserved: frozenset[str]) -> None:
        self.plan = plan
        units = [u for u in plan.units if u.lists is None]  # a frame lists its own items
        # In plan order of first use: the same order on every machine (no set iteration).
        paths = list(dict.fromkeys(_path(u)[:n] for u in units for n in range(1, len(_path(u)) + 1)))
        wanted = {path: f"\0scope_{path[-1]}" for path in paths}
        fanouts = {path: f"\0fanout_{path[-1]}" for path in paths}
        taken = reserved | {u.name for u in units}
        names = assign_names([*wanted.values(), *fanouts.values()], rule, taken)
        self.frames: dict[Path, Frame] = {(): Frame((), "main")}
        self.fanouts: dict[Path, str] = {path: names[fanouts[path]] for path in paths}
        for path in paths:
            self.frames[path] = Frame(path, names[wanted[path]])
        self._path = {u.name: _path(u) for u in units}
        for unit in units:
            path = self._path[unit.name]
            for depth in range(len(path) + 1):
                member = self.member(unit.name, path[:depth])
                assert member is not None, "a unit is inside every frame around it"
                frame = self.frames[path[:depth]]
                if member not in frame.needs:
                    frame.members.append(member)
                    frame.needs[member] = set()
                for need in unit.needs:
                    seen = self.member(need, path[:depth]) if need in self._path else None
                    if seen is not None and seen != member:
                        frame.needs[member].add(seen)

    def member(self, unit: str, frame: Path) -> str | None:
        """What stands for ``unit`` in the frame: its task, the task calling the scope holding
        it, or None when it is outside the frame."""
        path = self._path[unit]
        if path[: len(frame)] != frame:
            return None
        if len(path) == len(frame):
            return unit
        return self.frames[path[: len(frame) + 1]].name

    def frame_of(self, unit: Unit) -> Frame:
        return self.frames[self._path[unit.name]]

    def cycles(self) -> list[tuple[Frame, list[str]]]:
        """Frames whose tasks wait on each other in a circle: a scope that reads, inside,
        what is made from its own results outside it."""
        found = []
        for frame in self.frames.values():
            cycle = graphs.find_cycle({m: sorted(n) for m, n in frame.needs.items()}, frame.members)
            if cycle:
                found.append((frame, cycle))
        return found

    def dags(self, views: dict[str, TaskView], scope_call: TaskView) -> list[DagView]:
        """Every frame's DAG template, main first: the units' views with each frame's
        dependencies and item, and a call per nested scope (``scope_call`` as a pattern)."""
        by_name = {f.name: f for f in self.frames.values()}
        dags = []
        fanouts: list[DagView] = []
        for path, frame in self.frames.items():
            tasks = []
            for member in frame.members:
                depends = " && ".join(sorted(frame.needs[member])) or None
                if member in views:
                    item = "{{inputs.parameters.item}}" if path else None
                    tasks.append(replace(views[member], depends=depends, item=item))
                    continue
                child = by_name[member]
                fanout = self.fanouts[child.path]
                with_param, count = self.items(self.plan.scope_loops[child.path[-1]])
                item = "{{inputs.parameters.item}}" if path else None
                tasks.append(
                    replace(scope_call, name=member, template=fanout, depends=depends, item=item, items=with_param)
                )
                loop = replace(
                    scope_call,
                    name=member,
                    template=member,
                    with_param="{{inputs.parameters.items}}" if with_param else None,
                    sequence_count=count,
                    item=("{{inputs.parameters.item}}/" if path else "") + "{{item}}",
                )
                limit = foreach_limit(self.plan.pipeline.step(child.path[-1]))
                fanouts.append(DagView(fanout, bool(path), [loop], takes_items=bool(with_param), parallelism=limit))
            dags.append(DagView(frame.name, bool(path), tasks))
        return dags + fanouts

    def items(self, loop: Loop) -> tuple[str | None, str | None]:
        """``withParam`` over a producer's published indices, or ``withSequence``'s count over
        a list parameter's length."""
        if loop.kind == "param":
            ref = "workflow.parameters[" + string_literal(loop.name) + "]"
            return None, "{{=len(jsonpath(" + ref + ", '$'))}}"
        assert loop.producer is not None
        producer = self.plan.owner[loop.producer].name
        return "{{tasks." + producer + ".outputs.parameters.items-" + loop.name + "}}", None
