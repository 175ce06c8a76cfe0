"""What one task needs to run: its parameter values and the artifacts bound to each input.

Pure functions over the IR and the results of upstream tasks. The local interpreter binds from
the results it holds in memory; ``stepc exec`` binds from ``result.json`` files in the store.
Both then hand the same :class:`Task` to :func:`stepc.runtime.exec.execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stepc.ir import FlowConfig, Input, Pipeline, Step, evaluate
from stepc.ir import artifact_refs as artifact_refs  # re-exported: the backends read it here
from stepc.items import Item, item_text, sort_key
from stepc.runtime.store import ArtifactMeta, Store, TaskResult

BindMode = Literal["value", "item", "gather", "none"]
# (step, item path) -> the committed result of that task, or None when it has not run
ResultLookup = Callable[[str, Item], "TaskResult | None"]


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
    """One level of the foreach a class-dialect task is an item of (``self.input``,
    ``self.index``, ``self.foreach_stack()``): the list is the parameter ``name`` or the
    artifact ``artifact``."""

    name: str
    index: int
    count: int
    artifact: ArtifactMeta | None = None


@dataclass(frozen=True)
class Task:
    """One attempt of one step (or one foreach item), ready to run."""

    run_id: str
    step: str
    item: Item
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
    splits: tuple[Split, ...] = ()  # class dialect: the foreach levels this task is an item of, outermost first
    branches: tuple[str, ...] = ()  # class dialect: IR `after`; for a join, every branch in order (a view each)
    project: str | None = None  # Metaflow's @project name (for metaflow.current)
    iteration: int = 0  # a recursive switch's pass (0: the first), stored at `location`
    configs: tuple[FlowConfig, ...] = ()  # class dialect: what self.<config> holds

    @property
    def location(self) -> str:
        """Where the task's files go in the store (see :func:`pass_location`)."""
        return pass_location(self.step, self.iteration)


def pass_location(step: str, iteration: int) -> str:
    """The store folder of pass ``iteration`` of a recursive switch's step: the step's own for
    the first, ``<step>.<n>`` after it (no class-dialect step name holds a dot). The step's own
    ``result.json`` ends up holding the last pass, which its successors read."""
    return step if iteration == 0 else f"{step}.{iteration}"


def loops_again(step: Step, result: TaskResult) -> bool:
    """Whether a pass of a recursive switch chose the case that runs the step again."""
    return step.repeat is not None and result.status == "succeeded" and step.name in (result.next or ())


def at_depth(item: Item, depth: int) -> Item:
    """The task of a producer in ``depth`` scopes that a task at ``item`` reads: the prefix."""
    if depth == 0:
        return None
    if item is None or len(item) < depth:
        raise MissingInput(f"item {item_text(item) or '(none)'} has no index for {depth} foreach level(s)")
    return item[:depth]


def foreach_outputs(pipeline: Pipeline, step: Step) -> tuple[str, ...]:
    """Outputs of ``step`` that a scope head fans out over (so their length matters)."""
    names: list[str] = []
    for other in pipeline.steps:
        if other.foreach is None or other.foreach.source != "input" or other.scope[-1] != other.name:
            continue
        inp = other.input(other.foreach.name)
        if inp is not None and inp.producer == step.name and inp.name not in names:
            names.append(inp.name)
    return tuple(names)


def _succeeded(lookup: ResultLookup, step: Step, item: Item, what: str) -> TaskResult:
    result = lookup(step.name, item)
    where = f"item {item_text(item)} of '{step.name}'" if item is not None else f"step '{step.name}'"
    if result is None or result.status != "succeeded":
        raise MissingInput(f"{what}: {where} has not run")
    return result


def scope_count(pipeline: Pipeline, head: Step, parent: Item, params: Mapping[str, Any], lookup: ResultLookup) -> int:
    """How many items the scope that ``head`` opens has, for the task ``parent`` of the
    scopes around it (its list's producer must have finished)."""
    assert head.foreach is not None
    if head.foreach.source == "param":
        value = params[head.foreach.name]
        if not isinstance(value, list | tuple):
            raise MissingInput(f"foreach parameter '{head.foreach.name}' is not a list")
        return len(value)
    inp = head.input(head.foreach.name)
    if inp is None:
        raise MissingInput(f"foreach input '{head.foreach.name}' of step '{head.name}' is not an input")
    producer = pipeline.step(inp.producer)
    result = _succeeded(lookup, producer, at_depth(parent, producer.depth), f"input '{inp.name}' of step '{head.name}'")
    if inp.name not in result.counts:
        raise MissingInput(f"output '{inp.name}' of step '{producer.name}' has no recorded length")
    return result.counts[inp.name]


def item_count(
    pipeline: Pipeline, step: Step, params: Mapping[str, Any], lookup: ResultLookup, parent: Item = None
) -> int:
    """How many items the innermost scope of ``step`` has under ``parent`` (the path of the
    scopes around it; None for a scope at the top)."""
    return scope_count(pipeline, pipeline.step(step.scope[-1]), parent, params, lookup)


def item_paths(pipeline: Pipeline, step: Step, params: Mapping[str, Any], lookup: ResultLookup) -> list[Item]:
    """Every task of ``step``: ``[None]`` outside a foreach, else each index path, in order.
    Where a scope's list was not made (its producer skipped for that item), it has no items."""
    paths: list[tuple[int, ...]] = [()]
    for level, name in enumerate(step.scope):
        head = pipeline.step(name)
        deeper: list[tuple[int, ...]] = []
        for path in paths:
            parent: Item = path if level else None
            if _list_skipped(pipeline, head, parent, lookup):
                continue
            count = scope_count(pipeline, head, parent, params, lookup)
            deeper.extend(path + (k,) for k in range(count))
        paths = deeper
    return [None] if not step.scope else list(paths)


def path_sources(pipeline: Pipeline, head: Step) -> list[Step]:
    """The steps whose results decide the item paths of the scope ``head`` opens: the producer
    of the list of each scope around and including it (a list parameter has none)."""
    found: list[Step] = []
    for name in head.scope:
        level = pipeline.step(name)
        inp = level.input(level.foreach.name) if level.foreach and level.foreach.source == "input" else None
        if inp is not None:
            found.append(pipeline.step(inp.producer))
    return found


def _list_skipped(pipeline: Pipeline, head: Step, parent: Item, lookup: ResultLookup) -> bool:
    if head.foreach is None or head.foreach.source != "input":
        return False
    inp = head.input(head.foreach.name)
    if inp is None:
        return False
    producer = pipeline.step(inp.producer)
    result = lookup(producer.name, at_depth(parent, producer.depth))
    return result is not None and result.status == "skipped"


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
    item: Item,
    params: Mapping[str, Any],
    lookup: ResultLookup,
) -> tuple[BoundInput, ...]:
    """The artifacts behind each input of ``step`` (task ``item``), or :class:`MissingInput`.

    Inputs are read by depth (see ``ir_schema.json``): ``value`` from the producer's task at the
    prefix of ``item``; ``item`` from the same path in the same scopes, or one element of the
    scope's list; ``gather`` from every task of a producer one scope deeper.
    """
    flowspec = step.kind == "flowspec"
    bound: list[BoundInput] = []
    for inp in step.inputs:
        producer = pipeline.step(inp.producer)
        none = BoundInput(inp.name, "none", producer=inp.producer, views=inp.views)
        what = f"input '{inp.name}' of step '{step.name}'"
        if inp.mode == "gather":
            bound.append(_gather(pipeline, step, producer, inp, item, params, lookup, flowspec))
            continue
        element = inp.mode == "item" and producer.scope != step.scope
        source = at_depth(item, producer.depth)
        result = lookup(producer.name, source)
        if result is None or result.status == "skipped":
            if inp.optional:
                bound.append(none)
                continue
            raise MissingInput(f"{what}: step '{producer.name}' did not run")
        if result.status != "succeeded":
            raise MissingInput(f"{what}: step '{producer.name}' failed")
        meta = _output(result, inp.name, flowspec and not element)
        if meta is None:
            bound.append(none)
        elif element:
            if item is None:
                raise MissingInput(f"step '{step.name}' takes one item of '{inp.name}' but no --item was given")
            bound.append(BoundInput(inp.name, "item", (meta,), item[-1], producer=inp.producer, views=inp.views))
        else:
            bound.append(BoundInput(inp.name, "value", (meta,), producer=inp.producer, views=inp.views))
    return tuple(bound)


def _gather(
    pipeline: Pipeline,
    step: Step,
    producer: Step,
    inp: Input,
    item: Item,
    params: Mapping[str, Any],
    lookup: ResultLookup,
    flowspec: bool,
) -> BoundInput:
    """Every item of the producer's innermost scope under the scopes around it, which the
    consumer shares, in item order: a join's gather from one scope deeper, or (function
    dialect) the whole list of a foreach step in the same or another scope."""
    shared = producer.depth - 1
    if step.scope[:shared] != producer.scope[:shared]:
        raise MissingInput(f"input '{inp.name}' of step '{step.name}': '{producer.name}' is in another foreach")
    parent = at_depth(item, shared)
    whole = lookup(producer.name, None)
    if whole is not None and whole.status == "skipped":
        if flowspec:  # a join after a skipped foreach: no item, so no view (rather than no attribute)
            return BoundInput(inp.name, "gather", producer=inp.producer, views=inp.views)
        if inp.optional:
            return BoundInput(inp.name, "none", producer=inp.producer, views=inp.views)
        raise MissingInput(f"input '{inp.name}' of step '{step.name}': step '{producer.name}' did not run")
    head = pipeline.step(producer.scope[shared])
    count = scope_count(pipeline, head, parent, params, lookup)
    prefix = () if parent is None else parent
    metas: list[ArtifactMeta] = []
    absent: list[int] = []
    for k in range(count):
        path = prefix + (k,)
        result = lookup(producer.name, path)
        if flowspec and result is not None and result.status == "skipped":
            absent.append(k)  # a switch inside the foreach took that item another way
            continue
        result = _succeeded(lookup, producer, path, f"input '{inp.name}' of step '{step.name}'")
        meta = _output(result, inp.name, flowspec)
        if meta is None:
            absent.append(k)
        else:
            metas.append(meta)
    return BoundInput(inp.name, "gather", tuple(metas), producer=inp.producer, views=inp.views, absent=tuple(absent))


def foreach_splits(
    pipeline: Pipeline, step: Step, item: Item, params: Mapping[str, Any], lookup: ResultLookup
) -> tuple[Split, ...]:
    """The foreach levels task ``item`` of ``step`` is an item of, outermost first: the list each
    level splits, its length and this task's index in it."""
    if item is None:
        return ()
    splits: list[Split] = []
    for level, name in enumerate(step.scope):
        head = pipeline.step(name)
        assert head.foreach is not None
        parent = item[:level] or None
        count = scope_count(pipeline, head, parent, params, lookup)
        if head.foreach.source == "param":
            splits.append(Split(head.foreach.name, item[level], count))
            continue
        inp = head.input(head.foreach.name)
        if inp is None:
            raise MissingInput(f"foreach input '{head.foreach.name}' of step '{head.name}' is not an input")
        producer = pipeline.step(inp.producer)
        result = _succeeded(lookup, producer, at_depth(parent, producer.depth), f"input '{inp.name}' of '{head.name}'")
        splits.append(Split(inp.name, item[level], count, result.output(inp.name)))
    return tuple(splits)


def step_params(step: Step, params: Mapping[str, Any], item: Item) -> dict[str, Any]:
    """The parameter arguments of ``step``'s function; a foreach over a parameter gets one item
    (a class-dialect step keeps the whole list as its attribute and gets the item as
    ``self.input``)."""
    values = {name: params[name] for name in step.params if name in params}
    if step.foreach is not None and step.foreach.source == "param" and item is not None and step.kind != "flowspec":
        values[step.foreach.name] = params[step.foreach.name][item[-1]]
    return values


def make_task(
    pipeline: Pipeline,
    step: Step,
    item: Item,
    attempt: int,
    run_id: str,
    params: Mapping[str, Any],
    lookup: ResultLookup,
    final: bool | None = None,
    previous: TaskResult | None = None,
    iteration: int = 0,
) -> Task:
    """Everything needed to run ``step`` (task ``item``), attempt number ``attempt``.

    ``final`` says whether no retry follows this attempt; by default that is read from the
    attempt number (``1 + retry.times`` attempts in all), which a caller counting its own tries
    (a resumed run numbers attempts on from the earlier runner's) can override. ``previous``:
    for pass ``iteration`` > 0 of a recursive switch, the pass before it, whose outputs stand
    in for the inputs of the same names.
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
        inputs=_after_pass(bind_inputs(pipeline, step, item, params, lookup), previous),
        outputs=outputs,
        foreach_outputs=foreach_outputs(pipeline, step),
        env=step.env,
        timeout=step.timeout,
        catch=step.catch,
        final=attempt >= 1 + step.retry.times if final is None else final,
        splits=foreach_splits(pipeline, step, item, params, lookup) if flowspec else (),
        branches=step.after if flowspec else (),
        project=pipeline.project,
        iteration=iteration,
        configs=pipeline.configs if flowspec else (),
    )


def _after_pass(bound: tuple[BoundInput, ...], previous: TaskResult | None) -> tuple[BoundInput, ...]:
    """A recursive switch's next pass sees what its last pass set (as Metaflow, whose next task's
    parent is the last one): those outputs replace the inputs of the same names."""
    if previous is None:
        return bound
    mine = {meta.name: BoundInput(meta.name, "value", (meta,), producer=previous.step) for meta in previous.outputs}
    kept = tuple(b for b in bound if b.name not in mine)
    return kept + tuple(mine.values())


def condition_holds(
    pipeline: Pipeline, step: Step, item: Item, params: Mapping[str, Any], store: Store, lookup: ResultLookup
) -> bool:
    """Evaluate the step's effective condition for task ``item``, reading the upstream artifacts
    it names (inside a foreach, each item reads its own producer's task)."""
    artifacts: dict[tuple[str, str], Any] = {}
    for ref in artifact_refs(step.condition):
        producer = pipeline.step(ref.step)
        result = lookup(ref.step, at_depth(item, producer.depth))
        if result is None or result.status != "succeeded":
            return False  # the step the condition reads from did not run
        artifacts[(ref.step, ref.name)] = store.read_artifact(result.output(ref.name))
    return evaluate(step.condition, dict(params), artifacts)


def skip_is_per_item(pipeline: Pipeline, step: Step) -> bool:
    """Whether items of ``step`` may be skipped one by one: its condition reads an artifact made
    inside its foreach, or a required input comes from a task inside it (a switch inside a
    foreach). Otherwise the step runs or is skipped as a whole."""
    if not step.scope:
        return False
    inside = [r.step for r in artifact_refs(step.condition)]
    inside += [i.producer for i in step.inputs if not i.optional and i.mode != "gather"]
    return any(pipeline.step(name).depth > 0 for name in inside)


def should_skip(
    pipeline: Pipeline, step: Step, item: Item, params: Mapping[str, Any], store: Store, lookup: ResultLookup
) -> bool:
    """A task is skipped when its condition is false or a required input's producer was skipped
    (an optional input, default ``None``, receives ``None`` instead). With ``item`` None for a
    step inside a foreach, this decides for the step as a whole (see :func:`skip_is_per_item`)."""
    for inp in step.inputs:
        if inp.optional:
            continue
        producer = pipeline.step(inp.producer)
        whole = item is None or inp.mode == "gather" or producer.depth == 0
        result = lookup(producer.name, None if whole else at_depth(item, producer.depth))
        if result is not None and result.status == "skipped":
            return True
    if item is None and step.scope and skip_is_per_item(pipeline, step):
        return False  # decided item by item
    return not condition_holds(pipeline, step, item, params, store, lookup)


def rollback_order(pipeline: Pipeline, results: Iterable[TaskResult]) -> list[tuple[Step, TaskResult]]:
    """The tasks to undo, latest completion first (ties: later steps, higher items first)."""
    order = {s.name: i for i, s in enumerate(pipeline.steps)}
    todo = [
        (pipeline.step(r.step), r)
        for r in results
        if r.status == "succeeded" and not r.cached and pipeline.step(r.step).rollback
    ]
    todo.sort(key=lambda pair: (pair[1].ended, order[pair[0].name], sort_key(pair[1].item)), reverse=True)
    return todo
