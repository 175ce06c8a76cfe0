"""Property: any valid flow module, whatever its DAG shape, parameters and step settings, reads
without a diagnostic into an IR that round-trips through JSON and keeps every edge written."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stepc import ir, ir_json
from stepc.diagnostics import Diagnostic
from stepc.frontend import load, read_file

# One pool of pipeline parameters: a name used by several steps must agree, so each has one
# type and one default; the generator picks whether to annotate it.
PARAMS: dict[str, tuple[str, str]] = {
    "mode": ("str", '"train"'),
    "epochs": ("int", "3"),
    "rate": ("float", "0.5"),
    "flag": ("bool", "True"),
    "names": ("list[str]", '["a", "b"]'),
    "options": ("dict", '{"k": 1}'),
}
CONDITIONS = {
    "mode == 'train'": ("mode",),
    "epochs > 1 and not flag": ("epochs", "flag"),
    "rate <= 0.5 or mode in ['a', 'train']": ("rate", "mode"),
    "flag": ("flag",),
    "not (epochs != 3)": ("epochs",),
}
RETRIES = ["0", "2", '{"times": 1, "delay": 5}', '{"times": 3, "delay": 1.5, "backoff": 2}']
TIMEOUTS = ["60", '"90s"', '"15m"', '"1h30m"', "3600"]
RESOURCES = ['{"cpu": 2}', '{"cpu": "500m", "memory": "512Mi"}', '{"memory": "4Gi", "gpu": 1, "gpu_type": "t4"}']
CACHES = ['"code_hash"', '"input_hash"', "True", "False"]


@dataclass
class StepPlan:
    index: int
    name: str
    outputs: list[str]
    inputs: list[tuple[str, str, bool]]  # artifact, producer step name, optional (default None)
    after: list[str]
    params: list[str]
    annotate: list[bool]
    options: list[str] = field(default_factory=list)


@dataclass
class FlowPlan:
    steps: list[StepPlan]
    pipeline_call: str | None
    constants: list[str]

    def source(self) -> str:
        lines = ['"""A generated flow."""', "from stepc import pipeline, step", "", *self.constants, ""]
        for plan in self.steps:
            arguments = [f"outputs={plan.outputs!r}"] if plan.outputs else []
            if plan.inputs:
                arguments.append(f"inputs={[a for a, _, _ in plan.inputs]!r}")
            if plan.after:
                arguments.append(f"after={plan.after!r}")
            arguments += plan.options
            if plan.name != f"s{plan.index}":
                arguments.append(f"name={plan.name!r}")
            signature = [f"{a}=None" if optional else a for a, _, optional in plan.inputs]
            # parameters with a default must follow those without: optional inputs go last
            signature.sort(key=lambda s: s.endswith("=None"))
            for name, annotate in zip(plan.params, plan.annotate, strict=True):
                type_, default = PARAMS[name]
                signature.append(f"{name}: {type_} = {default}" if annotate else f"{name}={default}")
            lines += [
                f"@step({', '.join(arguments)})",
                f"def s{plan.index}({', '.join(signature)}):",
                "    return None",
                "",
            ]
        if self.pipeline_call:
            lines.append(self.pipeline_call)
        return "\n".join(lines) + "\n"

    def expected_edges(self) -> set[ir.Edge]:
        edges = {ir.Edge(producer, p.name, artifact) for p in self.steps for artifact, producer, _ in p.inputs}
        return edges | {ir.Edge(source, p.name, None) for p in self.steps for source in p.after}


@st.composite
def flows(draw: st.DrawFn) -> FlowPlan:
    count = draw(st.integers(1, 8))
    steps: list[StepPlan] = []
    produced: list[tuple[str, str]] = []  # (artifact, producer step name), in order
    for index in range(count):
        name = draw(st.sampled_from([f"s{index}", f"step-{index}", f"s{index}.v2"]))
        outputs = [f"a{index}_{k}" for k in range(draw(st.integers(0, 2)))]
        chosen = draw(st.lists(st.sampled_from(produced), unique=True, max_size=3)) if produced else []
        inputs = [(artifact, producer, draw(st.booleans())) for artifact, producer in chosen]
        earlier = [s.name for s in steps]
        after = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        params = draw(st.lists(st.sampled_from(sorted(PARAMS)), unique=True, max_size=3))
        options: list[str] = []
        if draw(st.booleans()):
            condition = draw(st.sampled_from(sorted(CONDITIONS)))
            options.append(f"when={condition!r}")
            params += [p for p in CONDITIONS[condition] if p not in params]
        foreach = draw(st.sampled_from(["none", "input", "param"]))
        if foreach == "input" and inputs:
            options.append(f"foreach={draw(st.sampled_from([a for a, _, _ in inputs]))!r}")
        elif foreach == "param":
            options.append('foreach="names"')
            params += [] if "names" in params else ["names"]
        annotate = [draw(st.booleans()) for _ in params]
        if "names" in params and foreach == "param":
            annotate[params.index("names")] = True  # a list parameter, not a guess from its default
        for key, values in (("retry", RETRIES), ("timeout", TIMEOUTS), ("resources", RESOURCES), ("cache", CACHES)):
            if draw(st.booleans()):
                options.append(f"{key}={draw(st.sampled_from(values))}")
        if draw(st.booleans()):
            options.append(f'image="img:{index}", env={{"STEP": "{index}"}}, weight={draw(st.integers(1, 5))}')
        if draw(st.booleans()):
            options.append(draw(st.sampled_from(['tags=["a", "b"]', 'tags={"team": "ml"}', 'description="Step."'])))
        steps.append(StepPlan(index, name, outputs, inputs, after, params, annotate, options))
        produced += [(o, name) for o in outputs]
    constants: list[str] = []
    pipeline_call = None
    if draw(st.booleans()):
        defaults = draw(
            st.lists(
                st.sampled_from(['image="base:1"', "retry=1", 'timeout="10m"', "cache=True", "resources=RES"]),
                unique=True,
            )
        )
        if "resources=RES" in defaults:
            constants.append('RES = {"cpu": 1, "memory": "1Gi"}')
        used = sorted({p for s in steps for p in s.params})
        if draw(st.booleans()) and used:
            override = used[0]
            defaults.append(f"params={{{override!r}: {PARAMS[override][1]}}}")
        listed = ", ".join(f"s{s.index}" for s in steps)
        pipeline_call = f'pipeline("generated", steps=[{listed}], schedule="*/5 * * * *", {", ".join(defaults)})'
    return FlowPlan(steps, pipeline_call, constants)


@given(flows())
def test_valid_flows_read_cleanly_round_trip_and_keep_every_edge(plan: FlowPlan) -> None:
    source = plan.source()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.py"
        path.write_text(source, encoding="utf-8")
        pipeline, diagnostics = load(str(path))
    assert pipeline is not None and not diagnostics, (source, [d.render_text() for d in diagnostics])
    assert [s.name for s in sorted(pipeline.steps, key=lambda s: s.span.line if s.span else 0)] == [
        s.name for s in plan.steps
    ]
    text = ir_json.to_json(pipeline)
    again = ir_json.from_json(text)
    assert again == pipeline
    assert ir_json.to_json(again) == text
    assert set(pipeline.edges) == plan.expected_edges()
    position = {s.name: i for i, s in enumerate(pipeline.steps)}
    assert all(position[e.source] < position[e.target] for e in pipeline.edges)  # a topological order
    for step in pipeline.steps:
        assert_wiring_rules(pipeline, step)


def conjuncts(condition: ir.Condition | None) -> list[ir.Condition]:
    if condition is None:
        return []
    return list(condition.operands) if isinstance(condition, ir.BoolOp) and condition.op == "and" else [condition]


def assert_wiring_rules(pipeline: ir.Pipeline, step: ir.Step) -> None:
    """SPEC §2.3/2.4 on one step: input modes, and the effective condition as own AND producers'."""
    effective = conjuncts(step.condition)
    assert all(part in effective for part in conjuncts(step.when))
    expected = list(conjuncts(step.when))
    for item in step.inputs:
        producer = pipeline.step(item.producer)
        if step.foreach == ir.Foreach("input", item.name):
            assert item.mode == "item"
        elif producer.scope and producer.scope == step.scope:
            assert item.mode == "item"  # inside one foreach, an input from it is the matching item
        else:
            assert item.mode == ("gather" if producer.foreach is not None else "value")
        if not item.optional:
            expected += conjuncts(producer.condition)
    assert set(map(repr, effective)) == set(map(repr, expected))  # same parts, repeats dropped


# -- one defect in a valid flow: the diagnostic names it, where it is written ----------------------


def read_diagnostics(source: str) -> list[Diagnostic]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.py"
        path.write_text(source, encoding="utf-8")
        return list(read_file(str(path)).diagnostics)


# A diagnostic costs a position pass (three parses), so these take a quarter of the examples.
ERROR_EXAMPLES = settings(max_examples=max(15, settings().max_examples // 4))


@ERROR_EXAMPLES
@given(flows(), st.data())
def test_a_misspelt_input_is_reported_where_it_is_written(plan: FlowPlan, data: st.DataObject) -> None:
    consumers = [s for s in plan.steps if s.inputs]
    assume(consumers)
    step = data.draw(st.sampled_from(consumers))
    index = data.draw(st.integers(0, len(step.inputs) - 1))
    artifact, producer, optional = step.inputs[index]
    typo = artifact + "x"
    step.inputs[index] = (typo, producer, optional)
    step.options = [o.replace(f"foreach={artifact!r}", f"foreach={typo!r}") for o in step.options]
    source = plan.source()
    lines = source.split("\n")
    decorator = next(i for i, line in enumerate(lines) if line.startswith(f"def s{step.index}(")) - 1
    expected = (decorator + 1, lines[decorator].index(repr(typo)) + 1)  # inputs come before foreach
    diagnostics = read_diagnostics(source)
    assert {d.code for d in diagnostics} == {"S104"}, [d.render_text() for d in diagnostics]
    (missing,) = diagnostics
    assert (missing.line, missing.col) == expected
    assert f"input '{typo}' of step '{step.name}' has no producer (did you mean '{artifact}'?)" == missing.message


@ERROR_EXAMPLES
@given(flows(), st.data())
def test_an_after_against_the_data_flow_is_a_cycle_named_in_full(plan: FlowPlan, data: st.DataObject) -> None:
    successors: dict[str, set[str]] = {}
    for edge in plan.expected_edges():
        successors.setdefault(edge.source, set()).add(edge.target)

    def downstream(name: str) -> set[str]:
        seen, frontier = set(), [name]
        while frontier:
            for target in successors.get(frontier.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return seen

    pairs = [(s, t) for s in plan.steps for t in plan.steps if t.name in downstream(s.name)]
    assume(pairs)
    first, later = data.draw(st.sampled_from(pairs))
    first.after = [*first.after, later.name]
    diagnostics = read_diagnostics(plan.source())
    assert {d.code for d in diagnostics} == {"S107"}, [d.render_text() for d in diagnostics]
    message = diagnostics[0].message
    assert message.startswith("cycle between steps: ")
    cycle = message.removeprefix("cycle between steps: ").split(" -> ")
    assert cycle[0] == cycle[-1] and {first.name, later.name} <= set(cycle)
    for source, target in zip(cycle, cycle[1:], strict=False):  # every hop is a real dependency
        assert target in successors.get(source, set()) or (source, target) == (later.name, first.name)
