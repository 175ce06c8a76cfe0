"""What one task needs to run: its parameter values and the artifacts bound to each input.

Pure functions over the IR and the results of upstream tasks. The local interpreter binds from
the results it holds in memory; ``stepc exec`` binds from ``result.json`` files in the store.
Both then hand the same :class:`Task` to :func:`stepc.runtime.exec.execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from stepc.ir import Pipeline, Step, evaluate
from stepc.ir import artifact_refs as artifact_refs  # re-exported: the backends read it here
from stepc.runtime.store import ArtifactMeta, Store, TaskResult

BindMode = Literal["value", "item", "gather", "none"]
# (step, item) -> the committed result of that task, or None when it has not run
ResultLookup = Callable[[str, "int | None"], "TaskResult | None"]


class MissingInput(Exception):
    """An input's producer has not (successfully) run: the task cannot start."""


@dataclass(frozen=True)
class BoundInput:
    """How one function argument is filled: a whole artifact, one item of a list artifact, the
    list of a foreach producer's results (in item order), or ``None`` for a skipped producer.

    In the class dialect (``flowspec`` steps) an input is an attribute, so ``none`` means the
    attribute stays unset, also when the producer ran but did not set it; ``views`` are the
    join views carrying it (IR ``Input.views``) and, for ``gather``, ``absent`` lists the items
    whose task did not set it (``artifacts`` then holds the others, in item order).
    """

    name: str
    mode: BindMode
    artifacts: tuple[ArtifactMeta, ...] = ()
    index: int | None = None
    producer: str = ""
    views: tuple[str, ...] = ()
    absent: tuple[int, ...] = ()


@dataclass(frozen=True)
class Split:
    """The foreach a class-dialect task is an item of (``self.input``, ``self.index``,
    ``self.foreach_stack()``): the list is the parameter ``name`` or the artifact ``artifact``.
    A step inside a foreach (a chained map) reports the foreach it descends from."""

    name: str
    index: int
    count: int
    artifact: ArtifactMeta | None = None


@dataclass(frozen=True)
class Task:
    """One attempt of one step (or one foreach item), ready to run."""

    run_id: str
    step: str
    item: int | None
    attempt: int
    function: str  # "module:function" or "module:Class.method"
    kind: str
    params: dict[str, Any]  # the function's parameter arguments, foreach item applied
    inputs: tuple[BoundInput, ...]
    outputs: tuple[str, ...]
    foreach_outputs: tuple[str, ...] = ()  # outputs a downstream foreach fans out over
    env: tuple[tuple[str, str], ...] = ()
    timeout: int | None = None
    catch: str | None = None  # class dialect @catch(var=): "" catches without storing
    final: bool = True  # the last attempt the retry policy allows (@catch acts only then)
    split: Split | None = None  # class dialect: the foreach this task is an item of
    branches: tuple[str, ...] = ()  # class dialect: IR `after`; for a join, every branch in order (a view each)


def foreach_outputs(pipeline: Pipeline, step: Step) -> tuple[str, ...]:
    """Outputs of ``step`` that some foreach step fans out over (so their length matters)."""
    if step.foreach is not None:
        return ()  # a chained map goes item by item; its own count is already known
    names: list[str] = []
    for other in pipeline.steps:
        if other.foreach is None or other.foreach.source != "input":
            continue
        inp = other.input(other.foreach.name)
        if inp is not None and inp.producer == step.name and inp.name not in names:
            names.append(inp.name)
    return tuple(names)


def item_count(pipeline: Pipeline, step: Step, params: Mapping[str, Any], lookup: ResultLookup) -> int:
    """How many items the foreach ``step`` has (its producers must have finished)."""
    assert step.foreach is not None
    if step.foreach.source == "param":
        value = params[step.foreach.name]
        if not isinstance(value, list | tuple):
            raise MissingInput(f"foreach parameter '{step.foreach.name}' is not a list")
        return len(value)
    inp = step.input(step.foreach.name)
    if inp is None:
        raise MissingInput(f"foreach input '{step.foreach.name}' of step '{step.name}' is not an input")
    producer = pipeline.step(inp.producer)
    if producer.foreach is not None:
        return item_count(pipeline, producer, params, lookup)
    result = lookup(producer.name, None)
    if result is None or result.status != "succeeded":
        raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' has not run")
    if inp.name not in result.counts:
        raise MissingInput(f"output '{inp.name}' of step '{producer.name}' has no recorded length")
    return result.counts[inp.name]


def _output(result: TaskResult, name: str, flowspec: bool) -> ArtifactMeta | None:
    """The artifact ``name`` of a succeeded task. A class-dialect step saves only the attributes it
    set, so there a missing one is absent (None); a function always returns every output."""
    try:
        return result.output(name)
    except KeyError:
        if flowspec:
            return None
        raise


def bind_inputs(
    pipeline: Pipeline,
    step: Step,
    item: int | None,
    params: Mapping[str, Any],
    lookup: ResultLookup,
) -> tuple[BoundInput, ...]:
    """The artifacts behind each input of ``step`` (item ``item``), or :class:`MissingInput`."""
    flowspec = step.kind == "flowspec"
    bound: list[BoundInput] = []
    for inp in step.inputs:
        producer = pipeline.step(inp.producer)
        none = BoundInput(inp.name, "none", producer=inp.producer, views=inp.views)
        if producer.foreach is None:
            result = lookup(producer.name, None)
            if result is None or result.status == "skipped":
                if inp.optional:
                    bound.append(none)
                    continue
                raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' did not run")
            if result.status != "succeeded":
                raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' failed")
            meta = _output(result, inp.name, flowspec and inp.mode != "item")
            if meta is None:
                bound.append(none)
            elif inp.mode == "item":
                if item is None:
                    raise MissingInput(f"step '{step.name}' takes one item of '{inp.name}' but no --item was given")
                bound.append(BoundInput(inp.name, "item", (meta,), item, producer=inp.producer, views=inp.views))
            else:
                bound.append(BoundInput(inp.name, "value", (meta,), producer=inp.producer, views=inp.views))
            continue
        # The producer is a foreach step: one item (chained map) or all of them (join).
        first = lookup(producer.name, 0)
        if first is not None and first.status == "skipped":
            if flowspec and inp.mode == "gather":
                # A join after a skipped foreach: no item, so no view (rather than no attribute).
                bound.append(BoundInput(inp.name, "gather", producer=inp.producer, views=inp.views))
                continue
            if inp.optional:
                bound.append(none)
                continue
            raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' did not run")
        if inp.mode == "item" and step.foreach is not None:
            if item is None:
                raise MissingInput(f"step '{step.name}' is a foreach step: give an item")
            result = lookup(producer.name, item)
            if result is None or result.status != "succeeded":
                raise MissingInput(
                    f"input '{inp.name}' of step '{step.name}': item {item} of '{producer.name}' has not run"
                )
            meta = _output(result, inp.name, flowspec)
            if meta is None:
                bound.append(none)
            else:
                bound.append(BoundInput(inp.name, "value", (meta,), producer=inp.producer, views=inp.views))
            continue
        count = item_count(pipeline, producer, params, lookup)
        metas: list[ArtifactMeta] = []
        absent: list[int] = []
        for k in range(count):
            result = lookup(producer.name, k)
            if result is None or result.status != "succeeded":
                raise MissingInput(
                    f"input '{inp.name}' of step '{step.name}': item {k} of '{producer.name}' has not run"
                )
            meta = _output(result, inp.name, flowspec)
            if meta is None:
                absent.append(k)
            else:
                metas.append(meta)
        bound.append(
            BoundInput(inp.name, "gather", tuple(metas), producer=inp.producer, views=inp.views, absent=tuple(absent))
        )
    return tuple(bound)


def foreach_split(
    pipeline: Pipeline, step: Step, item: int | None, params: Mapping[str, Any], lookup: ResultLookup
) -> Split | None:
    """The foreach that item ``item`` of ``step`` belongs to, traced back through chained maps
    to the list it splits (None outside a foreach)."""
    if step.foreach is None or item is None:
        return None
    count = item_count(pipeline, step, params, lookup)
    if step.foreach.source == "param":
        return Split(step.foreach.name, item, count)
    inp = step.input(step.foreach.name)
    if inp is None:
        raise MissingInput(f"foreach input '{step.foreach.name}' of step '{step.name}' is not an input")
    producer = pipeline.step(inp.producer)
    if producer.foreach is not None:
        root = foreach_split(pipeline, producer, item, params, lookup)
        return None if root is None else replace(root, index=item, count=count)
    result = lookup(producer.name, None)
    if result is None or result.status != "succeeded":
        raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' has not run")
    return Split(inp.name, item, count, result.output(inp.name))


def step_params(step: Step, params: Mapping[str, Any], item: int | None) -> dict[str, Any]:
    """The parameter arguments of ``step``'s function; a foreach over a parameter gets one item
    (a class-dialect step keeps the whole list as its attribute and gets the item as
    ``self.input``)."""
    values = {name: params[name] for name in step.params if name in params}
    if step.foreach is not None and step.foreach.source == "param" and item is not None and step.kind != "flowspec":
        values[step.foreach.name] = params[step.foreach.name][item]
    return values


def make_task(
    pipeline: Pipeline,
    step: Step,
    item: int | None,
    attempt: int,
    run_id: str,
    params: Mapping[str, Any],
    lookup: ResultLookup,
    final: bool | None = None,
) -> Task:
    """Everything needed to run ``step`` (item ``item``), attempt number ``attempt``.

    ``final`` says whether no retry follows this attempt; by default that is read from the
    attempt number (``1 + retry.times`` attempts in all), which a caller counting its own tries
    (a resumed run numbers attempts on from the earlier runner's) can override.
    """
    flowspec = step.kind == "flowspec"
    outputs = step.outputs
    if step.catch and step.catch not in outputs:
        outputs = (*outputs, step.catch)  # the caught exception (or None) is always saved
    return Task(
        run_id=run_id,
        step=step.name,
        item=item,
        attempt=attempt,
        function=step.function,
        kind=step.kind,
        params=step_params(step, params, item),
        inputs=bind_inputs(pipeline, step, item, params, lookup),
        outputs=outputs,
        foreach_outputs=foreach_outputs(pipeline, step),
        env=step.env,
        timeout=step.timeout,
        catch=step.catch,
        final=attempt >= 1 + step.retry.times if final is None else final,
        split=foreach_split(pipeline, step, item, params, lookup) if flowspec else None,
        branches=step.after if flowspec else (),
    )


def condition_holds(step: Step, params: Mapping[str, Any], store: Store, lookup: ResultLookup) -> bool:
    """Evaluate the step's effective condition, reading any upstream artifacts it names."""
    artifacts: dict[tuple[str, str], Any] = {}
    for ref in artifact_refs(step.condition):
        result = lookup(ref.step, None)
        if result is None or result.status != "succeeded":
            return False  # the step the condition reads from did not run
        artifacts[(ref.step, ref.name)] = store.read_artifact(result.output(ref.name))
    return evaluate(step.condition, dict(params), artifacts)


def should_skip(pipeline: Pipeline, step: Step, params: Mapping[str, Any], store: Store, lookup: ResultLookup) -> bool:
    """A step is skipped when its condition is false or a required input's producer was skipped
    (an optional input, default ``None``, receives ``None`` instead)."""
    for inp in step.inputs:
        if inp.optional:
            continue
        producer = pipeline.step(inp.producer)
        result = lookup(producer.name, None if producer.foreach is None else 0)
        if result is not None and result.status == "skipped":
            return True
    return not condition_holds(step, params, store, lookup)


def rollback_order(pipeline: Pipeline, results: Iterable[TaskResult]) -> list[tuple[Step, TaskResult]]:
    """The tasks to undo, latest completion first (ties: later steps, higher items first)."""
    order = {s.name: i for i, s in enumerate(pipeline.steps)}
    todo = [
        (pipeline.step(r.step), r)
        for r in results
        if r.status == "succeeded" and not r.cached and pipeline.step(r.step).rollback
    ]
    todo.sort(key=lambda pair: (pair[1].ended, order[pair[0].name], pair[1].item or 0), reverse=True)
    return todo
