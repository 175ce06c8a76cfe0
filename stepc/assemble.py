"""Declarations to IR: wiring, whole-pipeline checks and effective conditions.

Dialect-neutral: both readers hand over a :class:`ModuleDecl`; the checks of SPEC §2.3–2.7 that
need the whole pipeline (producers, cycles, foreach sources, parameter agreement, conditions,
groups) live here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stepc import graphs, step_conditions
from stepc.declarations import (
    ModuleDecl,
    Named,
    ParamDecl,
    PipelineDecl,
    Reporter,
    StepDecl,
    conforms_param,
    normalise_value,
)
from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.ir import (
    Condition,
    Edge,
    Foreach,
    Input,
    InputMode,
    Parameter,
    Pipeline,
    Resources,
    Retry,
    Step,
    conjoin,
)


@dataclass
class _Context:
    module: ModuleDecl
    reporter: Reporter
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Inputs of a module without pipeline() that no step of it produces, nor comes close to: a
    # module of steps for other flows to wire, not a mistake until it is run or compiled itself.
    unwired: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, anchor: object) -> None:
        self.diagnostics.append(self.reporter.diagnostic(code, message, anchor))

    def warn(self, code: str, message: str, anchor: object) -> None:
        self.diagnostics.append(self.reporter.diagnostic(code, message, anchor, "warning"))


@dataclass(frozen=True)
class Assembly:
    """What :func:`assemble` found: the pipelines without errors, the diagnostics, and the
    producer problems of a module of steps (see :attr:`_Context.unwired`), which only running
    or compiling that module reports."""

    pipelines: list[Pipeline]
    diagnostics: list[Diagnostic]
    unwired: list[Diagnostic]


def assemble(module: ModuleDecl, reporter: Reporter) -> Assembly:
    """Every pipeline of the module that has no error, and all diagnostics."""
    ctx = _Context(module, reporter)
    declared = list(module.pipelines)
    if not declared:
        declared = [PipelineDecl(name=Named(module.module, None), steps=None)]
    seen: set[str] = set()
    listed: set[str] = set()
    pipelines: list[Pipeline] = []
    for decl in declared:
        if decl.name.value in seen:
            ctx.error("S125", f"a pipeline named '{decl.name.value}' is declared twice", decl.name.anchor)
            continue
        seen.add(decl.name.value)
        listed.update(s.value for s in decl.steps or ())
        before = len(ctx.diagnostics)
        built = _build(ctx, decl)
        if built is not None and not any(d.severity == "error" for d in ctx.diagnostics[before:]):
            pipelines.append(built)
    if module.pipelines and all(p.steps is not None for p in module.pipelines):
        for step in module.steps:
            if not step.reference and _reference(step) not in listed:  # an imported one is its module's
                ctx.warn("W201", f"step '{step.name.value}' is not in the steps of any pipeline()", step.name.anchor)
    # A step in two pipelines: one report.
    return Assembly(pipelines, list(dict.fromkeys(ctx.diagnostics)), list(dict.fromkeys(ctx.unwired)))


def _a(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


def _type_text(type_: str, item_type: str | None) -> str:
    return f"{type_}[{item_type}]" if item_type else type_


def _function_name(step: StepDecl) -> str:
    return step.function.rpartition(":")[2].rpartition(".")[2]


def _reference(step: StepDecl) -> str:
    """The name ``pipeline(steps=[...])`` lists the step by in this module."""
    return step.reference or _function_name(step)


def _select_steps(ctx: _Context, decl: PipelineDecl) -> list[StepDecl]:
    if decl.steps is None:
        chosen = list(ctx.module.steps)
    else:
        by_function = {_reference(s): s for s in ctx.module.steps}
        chosen, picked = [], set()
        for ref in decl.steps:
            step = by_function.get(ref.value)
            if step is None and ref.value in ctx.module.broken_steps:
                continue
            if step is None:
                ctx.error("S117", f"'{ref.value}' is not decorated with @step", ref.anchor)
            elif ref.value in picked:
                ctx.error("S117", f"step '{ref.value}' is listed twice", ref.anchor)
            else:
                picked.add(ref.value)
                chosen.append(step)
        order = {id(s): i for i, s in enumerate(ctx.module.steps)}
        chosen.sort(key=lambda s: order[id(s)])
    unique: list[StepDecl] = []
    names: set[str] = set()
    for step in chosen:
        if step.name.value in names:
            ctx.error("S105", f"a step named '{step.name.value}' is declared twice", step.name.anchor)
            continue
        names.add(step.name.value)
        unique.append(step)
    return unique


def _resolve_parameters(ctx: _Context, steps: list[StepDecl], decl: PipelineDecl) -> dict[str, Parameter]:
    first: dict[str, tuple[ParamDecl, str]] = {}
    for step in steps:
        for param in step.params:
            if param.name not in first:
                first[param.name] = (param, step.name.value)
                continue
            other, where = first[param.name]
            items_differ = None not in (param.item_type, other.item_type) and param.item_type != other.item_type
            if param.type != other.type or items_differ:
                mine, theirs = _type_text(param.type, param.item_type), _type_text(other.type, other.item_type)
                message = (
                    f"parameter '{param.name}' is {_a(mine)} here but {_a(theirs)} in step '{where}': "
                    "one name is one parameter, so give it one type"
                )
                ctx.error("S109", message, param.anchor)
                continue
            if other.item_type is None and param.item_type is not None:  # list and list[int] agree
                first[param.name] = (replace(other, item_type=param.item_type), where)
            if param.name in decl.params:
                continue  # pipeline(params=...) sets the value: the functions' defaults do not matter
            if (param.required, param.default) != (other.required, other.default):
                shown = "no default" if other.required else f"default {other.default!r}"
                mine = "no default" if param.required else f"default {param.default!r}"
                ctx.error(
                    "S109",
                    f"parameter '{param.name}' has {mine} here but {shown} in step '{where}': make them agree "
                    "or set it once with pipeline(params=...)",
                    param.anchor,
                )
    params = {
        name: Parameter(name, p.type, p.default, p.required, p.item_type, p.description)
        for name, (p, _) in first.items()
    }
    for name, (value, anchor) in decl.params.items():
        if name not in params:
            ctx.error("S101", f"params names unknown parameter '{name}'{did_you_mean(name, params)}", anchor)
            continue
        declared = params[name]
        if value is not None and not conforms_param(value, declared.type, declared.item_type):
            shown = _type_text(declared.type, declared.item_type)
            ctx.error("S122", f"params value {value!r} for '{name}' is not {_a(shown)}", anchor)
            continue
        value = normalise_value(value, declared.type, declared.item_type)
        params[name] = Parameter(name, declared.type, value, False, declared.item_type, declared.description)
    return params


def _build(ctx: _Context, decl: PipelineDecl) -> Pipeline | None:
    first_diagnostic = len(ctx.diagnostics)
    steps = _select_steps(ctx, decl)
    if not steps:
        broken = any(ref.value in ctx.module.broken_steps for ref in decl.steps or ())
        if decl.name.anchor is not None and not broken:  # a broken step was reported already
            ctx.error("S003", f"pipeline '{decl.name.value}' has no steps", decl.name.anchor)
        return None
    params = _resolve_parameters(ctx, steps, decl)
    by_name = {s.name.value: s for s in steps}

    producers: dict[str, StepDecl] = {}
    for step in steps:
        for output in step.outputs:
            if output.value in producers:
                owner = producers[output.value].name.value
                ctx.error("S106", f"artifact '{output.value}' is already produced by step '{owner}'", output.anchor)
            else:
                producers[output.value] = step

    edges: set[Edge] = set()
    for step in steps:
        for item in step.inputs:
            producer = producers.get(item.value)
            if producer is None:
                elsewhere = [s.name.value for s in ctx.module.steps if item.value in {o.value for o in s.outputs}]
                hint = (
                    f": step '{elsewhere[0]}' produces it but is not in pipeline '{decl.name.value}'"
                    if elsewhere
                    else did_you_mean(item.value, producers)
                )
                message = f"input '{item.value}' of step '{step.name.value}' has no producer{hint}"
                if decl.name.anchor is None and not hint:
                    ctx.unwired.append(ctx.reporter.diagnostic("S104", message, item.anchor))
                else:
                    ctx.error("S104", message, item.anchor)
            else:
                edges.add(Edge(producer.name.value, step.name.value, item.value))
        for ref in step.after:
            if ref.value not in by_name:
                renamed = [s.name.value for s in steps if _function_name(s) == ref.value]
                hint = (
                    f": function {ref.value}() is the step named '{renamed[0]}', write that"
                    if renamed
                    else did_you_mean(ref.value, by_name)
                )
                ctx.error("S116", f"after names unknown step '{ref.value}'{hint}", ref.anchor)
            else:
                edges.add(Edge(ref.value, step.name.value, None))
        _check_foreach(ctx, step, params)
        _check_parameter_names(ctx, step, producers)
        for problem in step_conditions.when_problems(step, params, producers):
            ctx.error(problem.code, problem.message, problem.anchor)

    order = _topological_order(ctx, steps, edges)
    if order is None or ctx.unwired or any(d.severity == "error" for d in ctx.diagnostics[first_diagnostic:]):
        return None
    _check_groups(ctx, order, edges)

    built: dict[str, Step] = {}
    for step in order:
        built[step.name.value] = _step(ctx, decl, step, producers, built)
    return Pipeline(
        name=decl.name.value,
        source=ctx.module.path,
        module=ctx.module.module,
        steps=tuple(built[s.name.value] for s in order),
        edges=tuple(sorted(edges, key=lambda e: (e.source, e.target, e.artifact or ""))),
        params=tuple(params[name] for name in sorted(params)),
        description=decl.description or ctx.module.description,
        schedule=decl.schedule,
        image=decl.image or ctx.module.default_image,
        timeout=decl.timeout,
        max_parallel=decl.max_parallel,
    )


def _check_gather_depth(ctx: _Context, step: StepDecl, scope: tuple[str, ...], inp: Input, producer: Step) -> None:
    """A list of a nested foreach's results exists per item of the foreach around it: only a
    step inside that foreach (a chained map of it) can read it."""
    if inp.mode != "gather" or producer.depth <= 1 or scope[: producer.depth - 1] == producer.scope[:-1]:
        return
    outer = producer.scope[-2]
    anchor = next((i.anchor for i in step.inputs if i.value == inp.name), step.name.anchor)
    ctx.error(
        "S126",
        f"input '{inp.name}' of step '{step.name.value}' comes from '{producer.name}', a foreach nested in the "
        f"foreach of '{outer}': read it in a chained map of '{outer}' (foreach over one of its outputs), which "
        "gets the list for its own item",
        anchor,
    )


def _check_parameter_names(ctx: _Context, step: StepDecl, producers: dict[str, StepDecl]) -> None:
    """S140: a parameter named like another step's output is most often a forgotten ``inputs=``
    (the run would then ask for ``-p name=...``, or use the parameter's default)."""
    for param in step.params:
        producer = producers.get(param.name)
        if producer is None or producer is step:
            continue
        message = (
            f"parameter '{param.name}' of step '{step.name.value}' has the name of an output of step "
            f"'{producer.name.value}', which it does not read: add inputs=['{param.name}'] to read it, "
            "or rename the parameter"
        )
        ctx.error("S140", message, param.anchor)


def _check_foreach(ctx: _Context, step: StepDecl, params: dict[str, Parameter]) -> None:
    if step.nested is not None and (step.foreach is None or step.foreach.value not in {i.value for i in step.inputs}):
        ctx.error(
            "S126", "nested=True fans out inside a foreach: foreach must name an output of a foreach step", step.nested
        )
    if step.foreach is None:
        return
    name = step.foreach.value
    if name in {i.value for i in step.inputs}:
        return
    own = {p.name for p in step.params}
    if name in own:
        if params[name].type != "list":
            message = f"foreach '{name}' is {_a(params[name].type)} parameter; foreach needs a list"
            ctx.error("S108", message, step.foreach.anchor)
        return
    hint = did_you_mean(name, [i.value for i in step.inputs] + sorted(own))
    ctx.error(
        "S108",
        f"foreach '{name}' of step '{step.name.value}' is neither one of its inputs nor a list parameter of "
        f"its function{hint}",
        step.foreach.anchor,
    )


def _successors(steps: list[StepDecl], edges: set[Edge]) -> dict[str, list[str]]:
    """Step name -> the steps after it, sorted (``edges`` is a set: keep the walks deterministic)."""
    successors: dict[str, set[str]] = {s.name.value: set() for s in steps}
    for edge in edges:
        successors[edge.source].add(edge.target)
    return {name: sorted(targets) for name, targets in successors.items()}


def _topological_order(ctx: _Context, steps: list[StepDecl], edges: set[Edge]) -> list[StepDecl] | None:
    """Ties broken by declaration order; a cycle is reported with its path."""
    by_name = {s.name.value: s for s in steps}
    successors = _successors(steps, edges)
    order = graphs.topological_order(successors, list(by_name))
    if order is not None:
        return [by_name[name] for name in order]
    cycle = graphs.find_cycle(successors, sorted(by_name))
    assert cycle is not None, "no topological order means a cycle"
    ctx.error("S107", f"cycle between steps: {' -> '.join(cycle)}", by_name[cycle[0]].name.anchor)
    return None


def _check_groups(ctx: _Context, order: list[StepDecl], edges: set[Edge]) -> None:
    groups: dict[str, list[StepDecl]] = {}
    for step in order:
        if step.group is not None:
            groups.setdefault(step.group.value, []).append(step)
    if not groups:
        return
    successors = _successors(order, edges)
    predecessors = graphs.reverse(successors)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        if any(m.foreach is not None for m in members):
            foreach_member = next(m for m in members if m.foreach is not None)
            ctx.error(
                "S124",
                f"step '{foreach_member.name.value}' runs per item, so it cannot share group '{name}' with other steps",
                foreach_member.group.anchor if foreach_member.group else foreach_member.name.anchor,
            )
            continue
        inside = {m.name.value for m in members}
        between = graphs.reachable(successors, inside) - inside
        back = graphs.reachable(successors, between) & inside
        if back:
            leads_back = graphs.reachable(predecessors, back)
            outside = sorted(between & leads_back)[0]
            step = next(m for m in members if m.name.value in back)
            ctx.error(
                "S124",
                f"group '{name}' is not consecutive: step '{outside}' runs between its steps",
                step.group.anchor if step.group else step.name.anchor,
            )


def _scope(
    ctx: _Context, step: StepDecl, foreach: Foreach | None, producers: dict[str, StepDecl], built: dict[str, Step]
) -> tuple[str, ...]:
    """The foreach scopes a step runs in: a chained map (foreach over a foreach step's output)
    in the scope of the map it follows, a ``nested=True`` foreach in a new scope inside it; any
    other foreach opens a scope of its own."""
    if foreach is None:
        return ()
    outer: tuple[str, ...] = ()
    if foreach.source == "input":
        outer = built[producers[foreach.name].name.value].scope
    if step.nested is None:
        return outer or (step.name.value,)
    if not outer:
        message = "nested=True fans out inside a foreach, but this foreach's list is not made in one"
        ctx.error("S126", message, step.nested)
    return (*outer, step.name.value)


def _max_parallel(ctx: _Context, step: StepDecl, scope: tuple[str, ...]) -> int | None:
    """A step's ``max_parallel=``, which bounds the fan-out of the foreach scope the step opens:
    on any other step it would bound nothing, so it is an error there."""
    if step.max_parallel is None:
        return None
    name = step.name.value
    if not scope:
        ctx.error("S103", f"max_parallel bounds a fan-out, but step '{name}' has no foreach", step.max_parallel_at)
        return None
    if scope[-1] != name:
        message = (
            f"step '{name}' runs in the fan-out of '{scope[-1]}' (a chained map runs once per item of it): "
            f"set max_parallel on '{scope[-1]}'"
        )
        ctx.error("S103", message, step.max_parallel_at)
        return None
    return step.max_parallel


def _step(
    ctx: _Context,
    decl: PipelineDecl,
    step: StepDecl,
    producers: dict[str, StepDecl],
    built: dict[str, Step],
) -> Step:
    foreach: Foreach | None = None
    if step.foreach is not None:
        is_input = step.foreach.value in {i.value for i in step.inputs}
        foreach = Foreach("input" if is_input else "param", step.foreach.value)
    scope = _scope(ctx, step, foreach, producers, built)
    inputs: list[Input] = []
    when = step_conditions.resolved(step, producers)
    required_conditions: list[Condition | None] = [when]
    for item in step.inputs:
        producer = built[producers[item.value].name.value]
        mode: InputMode = "value"
        if foreach is not None and foreach.source == "input" and foreach.name == item.value:
            mode = "item"
        elif producer.scope and producer.scope == scope:
            mode = "item"  # inside one foreach everything is per item: the matching item
        elif producer.scope and scope[: len(producer.scope)] == producer.scope:
            mode = "value"  # from a scope around this one: the enclosing item's task
        elif producer.foreach is not None:
            mode = "gather"
        optional = item.value in step.optional_inputs
        inputs.append(Input(item.value, producer.name, mode, optional))
        if not optional:
            required_conditions.append(producer.condition)
    for inp in inputs:
        _check_gather_depth(ctx, step, scope, inp, built[inp.producer])
    for problem in step_conditions.read_problems(step, when, tuple(inputs), scope, built):
        ctx.error(problem.code, problem.message, problem.anchor)
    return Step(
        name=step.name.value,
        function=step.function,
        kind=step.kind,  # type: ignore[arg-type]
        inputs=tuple(inputs),
        outputs=tuple(o.value for o in step.outputs),
        params=tuple(p.name for p in step.params),
        after=tuple(a.value for a in step.after),
        foreach=foreach,
        scope=scope,
        when=when,
        condition=conjoin(required_conditions),
        max_parallel=_max_parallel(ctx, step, scope),
        retry=step.retry or decl.retry or Retry(),
        timeout=step.timeout if step.timeout is not None else decl.timeout,
        cache=step.cache or decl.cache or "none",  # type: ignore[arg-type]
        code_hash=step.code_hash,
        resources=step.resources or decl.resources or Resources(),
        image=step.image or decl.image or ctx.module.default_image,
        env=step.env,
        rollback=step.rollback,
        catch="" if step.on_failure == "continue" else None,  # caught, stored nowhere
        group=step.group.value if step.group else None,
        weight=step.weight if step.weight is not None else 1.0,
        tags=step.tags,
        description=step.description,
        span=step.span,
        engine=step.engine,
        secrets=step.secrets,
    )
