"""The class dialect's front end (SPEC §3): what it reads from a flow class, and every problem it
reports, at the exact line and column, with a message that says what to do."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from stepc.diagnostics import Diagnostic
from stepc.frontend import read_file
from stepc.ir import ArtifactRef, BoolOp, Compare, Const, Input, ParamRef, Pipeline, Resources, Retry

HEAD = (
    "from metaflow import FlowSpec, Parameter, catch, card, current, kubernetes, project, resources, retry, step, "
    "timeout\n\n"
)


def flow(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


def read(tmp_path: Path, source: str) -> tuple[tuple[Pipeline, ...], list[Diagnostic]]:
    path = tmp_path / "flow.py"
    path.write_text(source, encoding="utf-8")
    result = read_file(str(path))
    assert not [d for d in result.diagnostics if d.code == "S004"], result.diagnostics
    return result.pipelines, list(result.diagnostics)


def only_pipeline(tmp_path: Path, source: str) -> Pipeline:
    pipelines, diagnostics = read(tmp_path, source)
    assert not diagnostics, diagnostics
    (pipeline,) = pipelines
    return pipeline


LINEAR = flow("""
    class Linear(FlowSpec):
        \"\"\"Trains one model.\"\"\"

        lr = Parameter("lr", default=0.1, help="learning rate")
        epochs = Parameter("epochs", type=int, required=True)
        SCALE = 3

        @step
        def start(self):
            self.data = [1, 2, 3]
            self._scratch = "private"
            self.next(self.train)

        @retry(times=2, minutes_between_retries=1)
        @timeout(minutes=2, seconds=30)
        @resources(cpu=2, memory=2048, gpu=1)
        @kubernetes(image="python:3.12", memory=4096)
        @step
        def train(self):
            self.model = self.fitted() * self.SCALE
            self.next(self.end)

        def fitted(self):
            return sum(self.data) * self.lr

        @step
        def end(self):
            self.summary = {"model": self.model, "epochs": self.epochs}
""")


def test_a_linear_flow_reads_parameters_decorators_and_artifacts(tmp_path: Path) -> None:
    pipeline = only_pipeline(tmp_path, LINEAR)
    assert pipeline.name == "Linear" and pipeline.description == "Trains one model."
    assert [(p.name, p.type, p.default, p.required) for p in pipeline.params] == [
        ("epochs", "int", None, True),
        ("lr", "float", 0.1, False),
    ]
    assert pipeline.params[1].description == "learning rate"
    start, train, end = pipeline.steps
    assert start.kind == "flowspec" and start.function == "flow:Linear.start"
    assert start.outputs == ("data",)  # _scratch is private: not an artifact
    # A helper method's reads count as the step's; a class constant is not an artifact.
    assert train.inputs == (Input("data", "start"),)
    assert train.outputs == ("model",)
    assert train.params == ("epochs", "lr")
    assert train.retry == Retry(times=2, delay=60.0)
    assert train.timeout == 150
    # Metaflow counts memory in MB, and the largest of @resources and @kubernetes wins.
    assert train.resources == Resources(cpu=2.0, memory=4096 * 1024 * 1024, gpu=1)
    assert train.image == "python:3.12"
    assert end.inputs == (Input("model", "train"),)
    assert {(e.source, e.target, e.artifact) for e in pipeline.edges} == {
        ("start", "train", "data"),
        ("train", "end", "model"),
    }


def test_the_example_wires_joins_foreach_and_switch(tmp_path: Path) -> None:
    source = (Path(__file__).resolve().parent.parent / "golden" / "metaflow_style.py").read_text(encoding="utf-8")
    pipeline = only_pipeline(tmp_path, source)
    steps = {s.name: s for s in pipeline.steps}
    # A static join sees each branch's artifacts, and those from before the split in both views.
    assert steps["merge"].inputs == (
        Input("squares", "square", views=("square",)),
        Input("values", "start", views=("square", "cube")),
        Input("cubes", "cube", views=("cube",)),
    )
    score = steps["score"]
    assert score.foreach is not None and (score.foreach.source, score.foreach.name) == ("input", "pairs")
    assert Input("pairs", "fan", "item") in score.inputs
    gather = {i.name: i for i in steps["gather"].inputs}
    assert gather["score_value"].mode == "gather" and gather["squares"].mode == "value"
    # The switch on a Parameter is a parameter condition; the branches meet again in end.
    assert steps["fit"].condition == Compare("==", ParamRef("mode"), Const("train"))
    assert steps["describe"].condition == Compare("==", ParamRef("mode"), Const("report"))
    assert steps["end"].condition is None
    assert steps["end"].inputs == (Input("result", "fit", optional=True), Input("result", "describe", optional=True))
    assert steps["fit"].catch == "fit_error" and "fit_error" in steps["fit"].outputs
    assert steps["route"].after == ("gather",)


def test_a_switch_on_a_computed_attribute_is_an_artifact_condition(tmp_path: Path) -> None:
    pipeline = only_pipeline(
        tmp_path,
        flow("""
        class Switch(FlowSpec):
            @step
            def start(self):
                self.kind = "big"
                self.next(self.route)

            @step
            def route(self):
                self.next({"big": self.a, "small": self.b}, condition="kind")

            @step
            def a(self):
                self.x = 1
                self.next(self.c)

            @step
            def c(self):
                self.next({"up": self.d, "down": self.end}, condition="kind")

            @step
            def d(self):
                self.next(self.end)

            @step
            def b(self):
                self.next(self.end)

            @step
            def end(self):
                print(self.x)
        """),
    )
    steps = {s.name: s for s in pipeline.steps}
    big = Compare("==", ArtifactRef("start", "kind"), Const("big"))
    assert steps["a"].condition == big == steps["c"].condition
    assert steps["d"].condition == BoolOp("and", (big, Compare("==", ArtifactRef("start", "kind"), Const("up"))))
    assert steps["end"].condition is None  # every case of both switches leads here
    assert steps["end"].inputs == (Input("x", "a", optional=True),)


def test_merge_artifacts_outputs_and_include(tmp_path: Path) -> None:
    pipeline = only_pipeline(
        tmp_path,
        flow("""
        class Merge(FlowSpec):
            @step
            def start(self):
                self.shared = 1
                self.next(self.a, self.b)

            @step
            def a(self):
                self.x = 1
                self.only_a = 2
                self.next(self.join)

            @step
            def b(self):
                self.x = 2
                self.next(self.join)

            @step
            def join(self, inputs):
                self.merge_artifacts(inputs, exclude=["x"])
                self.next(self.end)

            @step
            def end(self):
                print(self.shared, self.only_a)
        """),
    )
    steps = {s.name: s for s in pipeline.steps}
    assert steps["join"].outputs == ("only_a", "shared")
    assert steps["end"].inputs == (Input("shared", "join"), Input("only_a", "join"))


def test_stepc_imports_and_several_classes_give_several_pipelines(tmp_path: Path) -> None:
    source = "from stepc import FlowSpec, step\n\n" + "".join(
        textwrap.dedent(f"""
        class {name}(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
        for name in ("One", "Two")
    )
    pipelines, diagnostics = read(tmp_path, source)
    assert not diagnostics and [p.name for p in pipelines] == ["One", "Two"]


# -- diagnostics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassCase:
    id: str
    body: str
    code: str
    at: str  # a snippet that occurs exactly once in the source
    says: tuple[str, ...] = ()
    severity: str = "error"


def steps(*bodies: str, name: str = "F") -> str:
    lines = [f"class {name}(FlowSpec):"]
    for body in bodies:
        lines.append(textwrap.indent(textwrap.dedent(body).strip("\n"), "    "))
        lines.append("")
    return "\n".join(lines)


START_END = ("@step\ndef start(self):\n    self.next(self.end)", "@step\ndef end(self):\n    pass")
END = "@step\ndef end(self):\n    pass"

CLASS_CASES = [
    ClassCase(
        "no-end",
        steps("@step\ndef start(self):\n    self.next(self.a)", "@step\ndef a(self):\n    pass"),
        "S130",
        "F(FlowSpec)",
        ("no 'end' step",),
    ),
    ClassCase(
        "no-next",
        steps("@step\ndef start(self):\n    self.x = 1", END),
        "S131",
        "start(self)",
        ("never calls self.next",),
    ),
    ClassCase(
        "next-not-last",
        steps("@step\ndef start(self):\n    self.next(self.end)\n    self.x = 1", END),
        "S131",
        "self.next(self.end)",
        ("last statement",),
    ),
    ClassCase(
        "next-unknown",
        steps("@step\ndef start(self):\n    self.next(self.edn)", END),
        "S131",
        "self.edn",
        ("did you mean 'end'",),
    ),
    ClassCase(
        "unreachable",
        steps(*START_END, "@step\ndef orphan(self):\n    self.next(self.end)"),
        "S132",
        "orphan",
        ("unreachable",),
    ),
    ClassCase(
        "branches-meet-without-join",
        steps(
            "@step\ndef start(self):\n    self.next(self.a, self.b)",
            "@step\ndef a(self):\n    self.next(self.meet)",
            "@step\ndef b(self):\n    self.next(self.meet)",
            "@step\ndef meet(self):\n    self.next(self.end)",
            END,
        ),
        "S133",
        "meet(self)",
        ("make it a join",),
    ),
    ClassCase(
        "join-of-nothing",
        steps(
            "@step\ndef start(self):\n    self.next(self.join)",
            "@step\ndef join(self, inputs):\n    self.next(self.end)",
            END,
        ),
        "S133",
        "join(self, inputs)",
        ("does not close",),
    ),
    ClassCase(
        "join-that-splits",
        steps(
            "@step\ndef start(self):\n    self.next(self.a, self.b)",
            "@step\ndef a(self):\n    self.next(self.join)",
            "@step\ndef b(self):\n    self.next(self.join)",
            "@step\ndef join(self, inputs):\n    self.next(self.c, self.end)",
            "@step\ndef c(self):\n    self.next(self.end)",
            END,
        ),
        "S133",
        "join(self, inputs)",
        ("cannot also fan out",),
    ),
    ClassCase(
        "empty-foreach",
        steps(
            "@step\ndef start(self):\n    self.items = [1]\n    self.next(self.join, foreach='items')",
            "@step\ndef join(self, inputs):\n    self.next(self.end)",
            END,
        ),
        "S134",
        "self.next(self.join, foreach='items')",
        ("a step between it and its join",),
    ),
    ClassCase(
        "foreach-never-joined",
        steps(
            "@step\ndef start(self):\n    self.items = [1]\n    self.next(self.each, foreach='items')",
            "@step\ndef each(self):\n    self.next(self.end)",
            END,
        ),
        "S134",
        "self.next(self.each, foreach='items')",
        ("never joined",),
    ),
    ClassCase(
        "input-outside-foreach",
        steps("@step\ndef start(self):\n    print(self.input)\n    self.next(self.end)", END),
        "S134",
        "self.input",
        ("foreach",),
    ),
    ClassCase(
        "switch-on-an-attribute-of-several-steps",
        steps(
            "mode = Parameter('mode', default='a')",
            "@step\ndef start(self):\n    self.next({'a': self.a, 'b': self.b}, condition='mode')",
            "@step\ndef a(self):\n    self.kind = 'x'\n    self.next(self.pick)",
            "@step\ndef b(self):\n    self.kind = 'y'\n    self.next(self.pick)",
            "@step\ndef pick(self):\n    self.next({'x': self.c, 'y': self.d}, condition='kind')",
            "@step\ndef c(self):\n    self.next(self.end)",
            "@step\ndef d(self):\n    self.next(self.end)",
            END,
        ),
        "S135",
        "'kind'",
        ("may come from several steps (a, b)", "set it in step 'pick' itself"),
    ),
    ClassCase(
        "reads-unset",
        steps(
            "@step\ndef start(self):\n    self.value = 1\n    self.next(self.end)",
            "@step\ndef end(self):\n    print(self.valeu)",
        ),
        "S136",
        "self.valeu",
        ("no step before it sets", "did you mean 'value'"),
    ),
    ClassCase(
        "private-read",
        steps(
            "@step\ndef start(self):\n    self._hidden = 1\n    self.next(self.end)",
            "@step\ndef end(self):\n    print(self._hidden)",
        ),
        "S136",
        "self._hidden)",
        ("private attributes stay in the step", "self.hidden"),
    ),
    ClassCase(
        "switch-on-nothing",
        steps("@step\ndef start(self):\n    self.next({'a': self.end, 'b': self.end}, condition='mode')", END),
        "S136",
        "'mode'",
        ("no step before it sets",),
    ),
    ClassCase(
        "project-name",
        "@project(name='Fraud-Detection')\n" + steps(*START_END),
        "S139",
        "'Fraud-Detection'",
        ("lowercase letters, digits and underscores",),
    ),
    ClassCase(
        "current-field",
        steps("@step\ndef start(self):\n    print(current.bogus)\n    self.next(self.end)", END),
        "W204",
        "bogus",
        ("metaflow.current.bogus is not provided",),
        severity="warning",
    ),
    ClassCase(
        "parameter-name",
        steps("alpha = Parameter('', default=1)", *START_END),
        "S137",
        "''",
        ("non-empty string",),
    ),
    ClassCase(
        "parameter-set",
        steps(
            "alpha = Parameter('alpha', default=1)",
            "@step\ndef start(self):\n    self.alpha = 2\n    self.next(self.end)",
            END,
        ),
        "S137",
        "self.alpha",
        ("cannot be set",),
    ),
    ClassCase(
        "unsupported-decorator",
        steps("@card\n@step\ndef start(self):\n    self.next(self.end)", END),
        "W203",
        "card\n    @step",
        ("@card is not supported",),
        "warning",
    ),
    ClassCase(
        "step-mutator",
        "from metaflow import StepMutator\n\n\nclass add_env(StepMutator):\n    def mutate(self, mutable_step):\n"
        "        pass\n\n\n" + steps("@add_env(n=1)\n@step\ndef start(self):\n    self.next(self.end)", END),
        "W203",
        "add_env(n=1)",
        ("@add_env is a Metaflow StepMutator", "it is ignored"),
        "warning",
    ),
    ClassCase(
        "step-mutator-from-its-module",
        "from metaflow.user_decorators.user_step_decorator import StepMutator as M\n\n\nclass tag(M):\n"
        "    def mutate(self, mutable_step):\n        pass\n\n\n"
        + steps("@tag\n@step\ndef start(self):\n    self.next(self.end)", END),
        "W203",
        "tag\n    @step",
        ("@tag is a Metaflow StepMutator",),
        "warning",
    ),
    ClassCase(
        "derived-flow-class",
        steps(*START_END, name="Base") + "\n\nclass Child(Base):\n    @step\n    def end(self):\n        pass\n",
        "S135",
        "Base):",
        ("derives from the flow class 'Base'", "not supported"),
    ),
    ClassCase(
        "flow-mutator",
        "import metaflow\n\n\nclass Grow(metaflow.FlowMutator):\n    def mutate(self, mutable_flow):\n"
        "        pass\n\n\n@Grow\n" + steps(*START_END),
        "W203",
        "Grow\nclass",
        ("@Grow is a Metaflow FlowMutator",),
        "warning",
    ),
    ClassCase(
        "unsupported-argument",
        steps("@kubernetes(namespace='ml')\n@step\ndef start(self):\n    self.next(self.end)", END),
        "W203",
        "namespace",
        ("argument 'namespace' of @kubernetes",),
        "warning",
    ),
]


@pytest.mark.parametrize("case", CLASS_CASES, ids=lambda c: c.id)
def test_class_diagnostic_at_the_right_place(case: ClassCase, tmp_path: Path) -> None:
    source = HEAD + case.body
    assert source.count(case.at) == 1, f"{case.at!r} must occur once"
    index = source.index(case.at)
    line = source.count("\n", 0, index) + 1
    col = index - (source.rfind("\n", 0, index) + 1) + 1
    pipelines, diagnostics = read(tmp_path, source)
    hits = [d for d in diagnostics if d.code == case.code]
    assert hits, diagnostics
    hit = hits[0]
    assert (hit.line, hit.col) == (line, col), (hit, line, col)
    for fragment in case.says:
        assert fragment in hit.message, hit.message
    assert hit.severity == case.severity
    if case.severity == "error":
        assert pipelines == ()
    else:
        assert len(pipelines) == 1


@pytest.mark.parametrize(
    ("decorator", "code"),
    [("@retry(times=-1)", "S114"), ("@resources(memory='lots')", "S112"), ("@timeout(minutes=X)", "S102")],
)
def test_bad_decorator_values_are_the_function_dialects_codes(decorator: str, code: str, tmp_path: Path) -> None:
    source = HEAD + "X = len([])\n" + steps(f"{decorator}\n@step\ndef start(self):\n    self.next(self.end)", END)
    pipelines, diagnostics = read(tmp_path, source)
    assert [d.code for d in diagnostics] == [code] and pipelines == ()
    assert diagnostics[0].line == [line.strip() for line in source.splitlines()].index(decorator) + 1


@pytest.mark.parametrize(
    ("imports", "base", "decorator"),
    [
        ("from metaflow import FlowSpec as Base, step as s", "Base", "s"),
        ("import metaflow", "metaflow.FlowSpec", "metaflow.step"),
        ("import stepc as sc", "sc.FlowSpec", "sc.step"),
    ],
)
def test_flow_classes_are_found_through_any_import_spelling(
    imports: str, base: str, decorator: str, tmp_path: Path
) -> None:
    source = textwrap.dedent(f"""
        {imports}

        class Spelled({base}):
            @{decorator}
            def start(self):
                self.x = 1
                self.next(self.end)

            @{decorator}
            def end(self):
                print(self.x)
    """)
    pipeline = only_pipeline(tmp_path, source)
    assert [s.name for s in pipeline.steps] == ["start", "end"]
    assert pipeline.steps[1].inputs == (Input("x", "start"),)


def test_a_class_from_another_library_is_not_a_flow(tmp_path: Path) -> None:
    source = "from stepc import step\nfrom prefect import FlowSpec\n\nclass Other(FlowSpec):\n    pass\n"
    pipelines, diagnostics = read(tmp_path, source)
    assert pipelines == () and [d.code for d in diagnostics] == []


def test_getattr_and_hasattr_on_self_are_reads_that_may_find_nothing(tmp_path: Path) -> None:
    pipeline = only_pipeline(
        tmp_path,
        flow("""
        class Dynamic(FlowSpec):
            @step
            def start(self):
                self.value = 1
                self.other = 2
                self.next(self.middle)

            @step
            def middle(self):
                self.seen = getattr(self, "value", None), hasattr(self, "missing")
                self.next(self.end)

            @step
            def end(self):
                name = "other"
                print(getattr(self, name))
        """),
    )
    steps = {s.name: s for s in pipeline.steps}
    assert steps["middle"].inputs == (Input("value", "start"),)  # "missing": no producer, no error
    # A name known only at run time: every attribute that may arrive is an input.
    assert {(i.name, i.producer) for i in steps["end"].inputs} == {
        ("value", "start"),
        ("other", "start"),
        ("seen", "middle"),
    }


def test_a_bare_catch_catches_without_an_attribute(tmp_path: Path) -> None:
    source = HEAD + steps("@catch\n@step\ndef start(self):\n    self.next(self.end)", END)
    pipeline = only_pipeline(tmp_path, source)
    assert pipeline.steps[0].catch == "" and pipeline.steps[0].outputs == ()


def test_a_positional_argument_after_the_name_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    # Found by the fuzz test: `default=="train"` is a positional comparison, not a keyword.
    source = HEAD + steps('mode = Parameter("mode", default=="train")', *START_END)
    pipelines, diagnostics = read(tmp_path, source)
    assert [(d.code, d.line) for d in diagnostics] == [("S101", 4)] and pipelines == ()


@pytest.mark.parametrize(
    ("decorator", "schedule"),
    [("@schedule(daily=True)", "0 0 * * *"), ("@schedule(cron='15 3 * * 1')", "15 3 * * 1")],
)
def test_a_schedule_decorator_is_the_pipeline_schedule(decorator: str, schedule: str, tmp_path: Path) -> None:
    source = "from metaflow import FlowSpec, schedule, step\n\n" + decorator + "\n" + steps(*START_END)
    assert only_pipeline(tmp_path, source).schedule == schedule


def test_a_bad_cron_schedule_is_reported_at_its_text(tmp_path: Path) -> None:
    source = "from metaflow import FlowSpec, schedule, step\n\n@schedule(cron='99 * * * *')\n" + steps(*START_END)
    pipelines, diagnostics = read(tmp_path, source)
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("S113", 3, 16)] and pipelines == ()


def test_a_flow_class_deriving_from_another_modules_flow_is_one_clear_error(tmp_path: Path) -> None:
    """Metaflow's flow inheritance across modules (a base flow class beside the flow): one S135
    at the base of the derived class, not an S138 for each of its steps."""
    base = steps("@step\ndef start(self):\n    self.next(self.end)", name="Base")
    (tmp_path / "base_flows.py").write_text(HEAD + base)
    source = "from metaflow import step\nfrom base_flows import Base\n\n\n" + steps(END, name="Flow").replace(
        "class Flow(FlowSpec)", "class Flow(Base)"
    )
    pipelines, diagnostics = read(tmp_path, source)
    here = [d for d in diagnostics if d.file.endswith("flow.py") and not d.file.endswith("base_flows.py")]
    assert [(d.code, d.line, d.col) for d in here] == [("S135", 5, 12)], diagnostics
    assert "derives from 'Base', not from FlowSpec itself" in here[0].message
    assert pipelines == ()
