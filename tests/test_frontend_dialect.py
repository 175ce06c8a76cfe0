"""The function dialect of SPEC §2, read statically into the IR: what each construct becomes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stepc import ir, ir_json
from stepc.frontend import load, read_file
from stepc.ir import BoolOp, Compare, Const, Edge, Foreach, Input, Not, ParamRef, Resources, Retry


def write(tmp_path: Path, source: str, name: str = "flow.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return str(path)


def read(tmp_path: Path, source: str, pipeline: str | None = None, name: str = "flow.py") -> ir.Pipeline:
    loaded, diagnostics = load(write(tmp_path, source, name), pipeline)
    assert loaded is not None, [d.render_text() for d in diagnostics]
    assert not diagnostics, [d.render_text() for d in diagnostics]
    return loaded


def steps_of(tmp_path: Path, source: str) -> list[str]:
    return [s.name for p in read_file(write(tmp_path, source)).pipelines for s in p.steps]


# -- recognising step and pipeline through the imports --------------------------------------------


@pytest.mark.parametrize(
    ("imports", "decorator"),
    [
        ("from stepc import step", "@step"),
        ("from stepc import step", "@step()"),
        ("from stepc import step", '@step(outputs=["x"])'),
        ("import stepc", "@stepc.step"),
        ("import stepc", '@stepc.step(outputs=["x"])'),
        ("import stepc as sc", "@sc.step()"),
        ("from stepc import step as s", '@s(outputs=["x"])'),
        ("from stepc import *", "@step"),
        ("from metaflow import step", "@step"),
    ],
)
def test_step_is_recognised_through_imports(tmp_path: Path, imports: str, decorator: str) -> None:
    assert steps_of(tmp_path, f"{imports}\n\n{decorator}\ndef work():\n    return 1\n") == ["work"]


@pytest.mark.parametrize(
    "source",
    [
        "from prefect import step\n\n@step\ndef work():\n    return 1\n",
        "import stepc\nfrom other import step\n\n@step\ndef work():\n    return 1\n",
        "from stepc import step\nfrom other import step\n\n@step\ndef work():\n    return 1\n",
        "from stepc import step as s\n\n@step\ndef work():\n    return 1\n",
        "import stepc\n\n@step\ndef work():\n    return 1\n",
        "from stepc import step\n\ndef step(f):\n    return f\n\n@step\ndef work():\n    return 1\n",
        "from stepc import step\n\nstep = lambda f: f\n\n@step\ndef work():\n    return 1\n",
        "import other as stepc\n\n@stepc.step\ndef work():\n    return 1\n",
    ],
)
def test_a_step_of_another_library_or_a_rebound_name_is_not_a_step(tmp_path: Path, source: str) -> None:
    path = write(tmp_path, source)
    assert read_file(path).pipelines == ()
    assert [d.code for d in load(path)[1]] == ["S003"]


@pytest.mark.parametrize(
    "imports",
    [
        "try:\n    from stepc import step\nexcept ImportError:\n    step = None\n",
        "import sys\nif sys.version_info < (3, 11):\n    pass\nelif True:\n    from stepc import step\nelse:\n"
        "    from other import step\n",
        "if True: from stepc import step\n",
    ],
    ids=["try-with-fallback", "if-elif-else", "one-line-if"],
)
def test_imports_inside_top_level_blocks_count(tmp_path: Path, imports: str) -> None:
    assert steps_of(tmp_path, f"{imports}\n@step\ndef work():\n    return 1\n") == ["work"]


def test_a_foreign_step_beside_stepc_steps_is_left_alone(tmp_path: Path) -> None:
    source = """
        from stepc import step as stepc_step
        from airflow.decorators import task as step

        @step
        def theirs():
            return 1

        @stepc_step
        def ours(mode: str = "x"):
            return 2
    """
    assert steps_of(tmp_path, source) == ["ours"]


def test_pipeline_is_recognised_through_imports(tmp_path: Path) -> None:
    source = """
        import stepc as sc

        @sc.step
        def a():
            return 1

        flow: object = sc.pipeline("named", steps=[a])
    """
    assert read(tmp_path, source).name == "named"


# -- the implicit pipeline and several pipelines --------------------------------------------------


def test_without_pipeline_every_step_forms_one_named_after_the_file(tmp_path: Path) -> None:
    source = """
        \"\"\"Nightly scoring.\"\"\"
        from stepc import step

        @step(outputs=["a"])
        def first():
            return 1

        @step(inputs=["a"])
        def second(a):
            return 1
    """
    pipeline = read(tmp_path, source, name="nightly_scoring.py")
    assert (pipeline.name, pipeline.module, pipeline.source) == (
        "nightly_scoring",
        "nightly_scoring",
        "nightly_scoring.py",
    )
    assert pipeline.description == "Nightly scoring."
    assert [s.function for s in pipeline.steps] == ["nightly_scoring:first", "nightly_scoring:second"]


SEVERAL = """
    from stepc import pipeline, step

    @step(outputs=["data"])
    def load(rows: int = 10):
        return 1

    @step(inputs=["data"], outputs=["model"])
    def train(data):
        return 1

    @step(inputs=["data"])
    def report(data, title: str = "daily"):
        return 1

    pipeline("training", steps=[load, train], schedule="0 3 * * 1-5")
    pipeline("reporting", steps=[report, load], image="reporting:1", description="The daily report.")
"""


def test_several_pipelines_per_module(tmp_path: Path) -> None:
    result = read_file(write(tmp_path, SEVERAL))
    assert result.diagnostics == ()
    training, reporting = result.pipelines
    assert [s.name for s in training.steps] == ["load", "train"]
    assert [s.name for s in reporting.steps] == ["load", "report"]  # topological, not as listed
    assert [p.name for p in training.params] == ["rows"]
    assert [p.name for p in reporting.params] == ["rows", "title"]
    assert (training.schedule, reporting.schedule) == ("0 3 * * 1-5", None)
    assert (training.image, reporting.image) == ("python:3.12-slim", "reporting:1")
    assert reporting.description == "The daily report."
    assert read(tmp_path, SEVERAL, "reporting") == reporting


# -- wiring: edges, chained maps, foreach over a parameter ----------------------------------------

MAPS = """
    from stepc import step

    @step(outputs=["shards"])
    def split(n: int = 4):
        return list(range(n))

    @step(inputs=["shards"], outputs=["cleaned"], foreach="shards")
    def clean(shards):
        return shards

    @step(inputs=["cleaned"], outputs=["features"], foreach="cleaned")
    def featurize(cleaned):
        return cleaned

    @step(inputs=["features", "shards"], outputs=["table"])
    def combine(features, shards):
        return features

    @step(outputs=["scores"], foreach="rates", after=["combine"])
    def sweep(rates: list[float] = [0.1, 1]):
        return rates
"""


def test_chained_maps_gathers_and_foreach_over_a_list_parameter(tmp_path: Path) -> None:
    pipeline = read(tmp_path, MAPS)
    assert pipeline.step("clean").foreach == Foreach("input", "shards")
    assert pipeline.step("clean").inputs == (Input("shards", "split", "item"),)
    # foreach over an input whose producer is itself a foreach step: item by item (a chained map)
    assert pipeline.step("featurize").inputs == (Input("cleaned", "clean", "item"),)
    # a plain step consuming a foreach producer gathers the list; a plain producer stays a value
    assert pipeline.step("combine").inputs == (Input("features", "featurize", "gather"), Input("shards", "split"))
    assert pipeline.step("sweep").foreach == Foreach("param", "rates")
    assert pipeline.param("rates") == ir.Parameter("rates", "list", (0.1, 1.0), False, "float")
    assert set(pipeline.edges) == {
        Edge("split", "clean", "shards"),
        Edge("clean", "featurize", "cleaned"),
        Edge("featurize", "combine", "features"),
        Edge("split", "combine", "shards"),
        Edge("combine", "sweep", None),
    }
    assert pipeline.edges == tuple(sorted(pipeline.edges, key=lambda e: (e.source, e.target, e.artifact or "")))


def test_after_orders_steps_without_data(tmp_path: Path) -> None:
    source = """
        from stepc import step

        @step(after=["migrate"])
        def serve():
            return 1

        @step
        def migrate():
            return 1
    """
    pipeline = read(tmp_path, source)
    assert [s.name for s in pipeline.steps] == ["migrate", "serve"]
    assert pipeline.edges == (Edge("migrate", "serve", None),)
    assert pipeline.step("serve").after == ("migrate",)
    assert pipeline.upstream("serve") == ["migrate"]


def test_topological_order_breaks_ties_by_declaration(tmp_path: Path) -> None:
    source = """
        from stepc import step

        @step(inputs=["b", "c"])
        def d(b, c):
            return 1

        @step(outputs=["c"])
        def c():
            return 1

        @step(outputs=["b"])
        def b():
            return 1
    """
    assert [s.name for s in read(tmp_path, source).steps] == ["c", "b", "d"]


# -- conditions -----------------------------------------------------------------------------------


def test_when_is_parsed_into_a_tree(tmp_path: Path) -> None:
    source = """
        from stepc import step

        @step(when="mode == 'train' and (epochs > 1 or not quick) and 0 < rate <= 1 and mode in ['a', 'b']")
        def a(mode: str = "train", epochs: int = 3, quick: bool = False, rate: float = 0.5):
            return 1

        @step(when="quick")
        def b(quick: bool = False):
            return 1
    """
    pipeline = read(tmp_path, source)
    assert pipeline.step("a").when == BoolOp(
        "and",
        (
            Compare("==", ParamRef("mode"), Const("train")),
            BoolOp(
                "or", (Compare(">", ParamRef("epochs"), Const(1)), Not(Compare("==", ParamRef("quick"), Const(True))))
            ),
            BoolOp("and", (Compare("<", Const(0), ParamRef("rate")), Compare("<=", ParamRef("rate"), Const(1)))),
            Compare("in", ParamRef("mode"), Const(("a", "b"))),
        ),
    )
    assert pipeline.step("b").when == Compare("==", ParamRef("quick"), Const(True))


EFFECTIVE = """
    from stepc import step

    @step(outputs=["raw"], when="source != 'none'")
    def fetch(source: str = "s3"):
        return 1

    @step(inputs=["raw"], outputs=["full"], when="mode == 'full'")
    def full(raw, mode: str = "full"):
        return 1

    @step(inputs=["raw"], outputs=["quick"], when="mode != 'full'")
    def quick(raw, mode: str = "full"):
        return 1

    @step(inputs=["full", "quick"], outputs=["merged"])
    def merge(full=None, quick=None):
        return 1

    @step(inputs=["full"])
    def audit(full):
        return 1

    @step(inputs=["merged"])
    def publish(merged):
        return 1
"""


def test_effective_conditions_follow_required_producers_only(tmp_path: Path) -> None:
    pipeline = read(tmp_path, EFFECTIVE)
    fetched = Compare("!=", ParamRef("source"), Const("none"))
    is_full = Compare("==", ParamRef("mode"), Const("full"))
    assert pipeline.step("fetch").condition == fetched
    assert pipeline.step("full").condition == BoolOp("and", (is_full, fetched))
    assert pipeline.step("full").when == is_full
    assert pipeline.step("audit").when is None
    assert pipeline.step("audit").condition == BoolOp("and", (is_full, fetched))  # transitive
    # optional inputs (default None) do not pass on their producers' conditions: a merge runs
    assert pipeline.step("merge").condition is None
    assert pipeline.step("merge").inputs == (
        Input("full", "full", optional=True),
        Input("quick", "quick", optional=True),
    )
    assert pipeline.step("publish").condition is None


# -- parameters -----------------------------------------------------------------------------------


def test_parameters_types_defaults_and_sharing(tmp_path: Path) -> None:
    source = """
        from typing import Optional

        from stepc import step

        @step(outputs=["a"])
        def first(seed: int = 7, rate=0.5, name="x", flags: dict[str, bool] = {}, limit: Optional[int] = None):
            return 1

        @step(inputs=["a"])
        def second(a, seed: int = 7, target: str, ratio: float = 1):
            return 1
    """.replace("target: str, ", "*, target: str, ")
    pipeline = read(tmp_path, source)
    assert pipeline.params == (
        ir.Parameter("flags", "dict", {}, False, "bool"),
        ir.Parameter("limit", "int", None, False),
        ir.Parameter("name", "str", "x", False),
        ir.Parameter("rate", "float", 0.5, False),
        ir.Parameter("ratio", "float", 1.0, False),
        ir.Parameter("seed", "int", 7, False),
        ir.Parameter("target", "str", None, True),
    )
    assert pipeline.step("second").params == ("seed", "target", "ratio")


def test_params_override_defaults_and_settles_disagreements(tmp_path: Path) -> None:
    source = """
        from stepc import pipeline, step

        @step(outputs=["a"])
        def first(seed: int = 1, rate: float = 0.1, target: str):
            return 1

        @step(inputs=["a"])
        def second(a, seed: int = 2):
            return 1

        pipeline("p", steps=[first, second], params={"seed": 7, "rate": 1, "target": "prod"})
    """.replace("target: str", "*, target: str")
    pipeline = read(tmp_path, source)
    assert pipeline.param("seed") == ir.Parameter("seed", "int", 7, False)
    assert pipeline.param("rate") == ir.Parameter("rate", "float", 1.0, False)
    assert pipeline.param("target") == ir.Parameter("target", "str", "prod", False)


# -- settings and pipeline-level defaults ---------------------------------------------------------

SETTINGS = """
    \"\"\"Module docstring.\"\"\"
    from stepc import pipeline, step

    GPU = {"gpu": 1, "gpu_type": "a100"}
    MEMORY = "4Gi"
    BIG = {"cpu": "1500m", "memory": MEMORY, "disk": "10G", **{}}
    LABELS = ["nightly", "ml"]
    NEG = -1

    def undo(model):
        pass

    @step(
        name="fit-model",
        outputs=["model"],
        retry={"times": 3, "delay": 10, "backoff": 2},
        timeout="1h30m",
        cache="code_hash",
        resources={"cpu": 2, "memory": MEMORY, **{}},
        image="trainer:2",
        env={"MODE": "fast"},
        rollback=undo,
        group="fit",
        weight=3,
        tags=LABELS,
        description="Fit it.",
    )
    def fit():
        \"\"\"Not this one.\"\"\"
        return 1

    @step(inputs=["model"], tags={"team": "ml"})
    def inherit(model, offset: int = NEG):
        \"\"\"Take the pipeline's settings.

        More text.
        \"\"\"
        return 1

    pipeline(
        "settings", steps=[fit, inherit], image="base:1", retry=1, timeout=90, cache=True,
        resources={"cpu": 0.5, "memory": "512Mi"},
    )
"""


def test_step_settings_are_normalised_and_pipeline_defaults_fill_the_rest(tmp_path: Path) -> None:
    pipeline = read(tmp_path, SETTINGS.replace(", **{}}", "}"))
    fit = pipeline.step("fit-model")
    assert fit.function == "flow:fit"
    assert fit.retry == Retry(3, 10.0, 2.0)
    assert fit.timeout == 5400
    assert fit.cache == "code_hash"
    assert fit.resources == Resources(cpu=2.0, memory=4 * 2**30)
    assert fit.image == "trainer:2"
    assert fit.env == (("MODE", "fast"),)
    assert fit.rollback == "flow:undo"
    assert (fit.group, fit.weight, fit.description) == ("fit", 3.0, "Fit it.")
    assert fit.tags == (("ml", ""), ("nightly", ""))
    inherit = pipeline.step("inherit")
    assert inherit.retry == Retry(1)
    assert inherit.timeout == 90
    assert inherit.cache == "all"
    assert inherit.resources == Resources(cpu=0.5, memory=512 * 2**20)
    assert inherit.image == "base:1"
    assert inherit.tags == (("team", "ml"),)
    assert inherit.description == "Take the pipeline's settings."
    assert pipeline.param("offset").default == -1
    assert inherit.span is not None and (inherit.span.file, inherit.span.col) == ("flow.py", 1)
    assert pipeline.description == "Module docstring."


def test_without_pipeline_defaults_a_step_gets_the_built_in_ones(tmp_path: Path) -> None:
    pipeline = read(tmp_path, "from stepc import step\n\n@step\ndef a():\n    return 1\n")
    (only,) = pipeline.steps
    assert (only.retry, only.timeout, only.cache, only.resources) == (Retry(), None, "none", Resources())
    assert (only.image, only.weight, only.condition, only.description) == ("python:3.12-slim", 1.0, None, "")


def test_project_image_comes_from_tool_stepc(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.stepc]\nimage = "corp/python:3.12"\n', encoding="utf-8")
    (tmp_path / "flows").mkdir()
    source = "from stepc import step\n\n@step\ndef a():\n    return 1\n"
    pipeline = read(tmp_path, source, name="flows/daily.py")
    assert (pipeline.image, pipeline.steps[0].image, pipeline.source) == (
        "corp/python:3.12",
        "corp/python:3.12",
        "flows/daily.py",
    )


def test_constants_are_read_in_nested_positions(tmp_path: Path) -> None:
    source = """
        from stepc import step

        OUT = "model"
        NAMES = [OUT, "metrics"]
        CPU = 2
        SPEC = {"cpu": CPU, "memory": "1" "Gi"}
        RATES: list = [0.1, -0.5]
        TIMEOUT = +60

        @step(outputs=NAMES, resources=SPEC, timeout=TIMEOUT, retry={"times": CPU})
        def fit(rates: list = RATES):
            return 1, 2
    """
    pipeline = read(tmp_path, source)
    (fit,) = pipeline.steps
    assert fit.outputs == ("model", "metrics")
    assert fit.resources == Resources(cpu=2.0, memory=2**30)
    assert (fit.timeout, fit.retry.times) == (60, 2)
    assert pipeline.param("rates").default == (0.1, -0.5)


@pytest.mark.parametrize(
    "source", [MAPS, EFFECTIVE, SETTINGS.replace(", **{}}", "}")], ids=["maps", "conditions", "settings"]
)
def test_the_ir_round_trips_through_json(tmp_path: Path, source: str) -> None:
    pipeline = read(tmp_path, source)
    text = ir_json.to_json(pipeline)
    assert ir_json.from_json(text) == pipeline
    assert ir_json.to_json(ir_json.from_json(text)) == text


def test_code_hash_ignores_formatting_but_not_code(tmp_path: Path) -> None:
    plain = "from stepc import step\n\n@step\ndef a(x: int = 1000):\n    return {'x': x}\n"
    styled = (
        'from stepc import step\n\n@step(retry=2)\ndef a(\n    x: int = 1_000,  # rows\n):\n    return {"x": (x)}\n'
    )
    changed = "from stepc import step\n\n@step\ndef a(x: int = 1000):\n    return {'x': x + 1}\n"
    hashes = [read(tmp_path, s).steps[0].code_hash for s in (plain, styled, changed)]
    assert hashes[0] == hashes[1] != hashes[2]
    assert len(hashes[0]) == 16


def test_step_spans_count_characters(tmp_path: Path) -> None:
    source = 'from stepc import step\n\n@step\ndef a():\n    return "ééé"\n'
    (only,) = read(tmp_path, source).steps
    assert only.span == ir.Span("flow.py", 4, 1, 5, 17)


def test_parameter_values_are_frozen_at_every_depth(tmp_path: Path) -> None:
    source = """
        from stepc import step

        @step
        def a(x=((1, [2]), {"k": [3, (4,)]}), y: list[float] = [1, 2]):
            return 1
    """
    pipeline = read(tmp_path, source)
    assert pipeline.param("x").default == ((1, (2,)), {"k": (3, (4,))})
    assert pipeline.param("y").default == (1.0, 2.0)
    assert ir_json.from_json(ir_json.to_json(pipeline)) == pipeline
