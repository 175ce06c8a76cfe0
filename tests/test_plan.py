"""The execution plan the backends share (backends/plan.py) and the one `stepc exec` command
builder (backends/commands.py): flows read by the real front end, plans built as every
backend builds them."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

import pytest
from stepc.backends.airflow import AirflowBackend
from stepc.backends.argo import ArgoBackend
from stepc.backends.commands import ExecCall, shell_line
from stepc.backends.gha import GitHubActionsBackend
from stepc.backends.naming import NameRule
from stepc.backends.plan import Loop, NameScheme, Plan, build_plan
from stepc.backends.valohai import ValohaiBackend

from stepc.config import Config
from stepc.frontend import load
from stepc.ir import ArtifactRef, Compare, Const, Edge, Foreach, Input, ParamRef, Pipeline, Retry, Step

DNS = NameScheme(NameRule(63, re.compile(r"[^a-z0-9-]")))

FLOW = """
from stepc import pipeline, step


@step(outputs=["rows"], group="ingest", retry=2, timeout=60, resources={"cpu": 1, "memory": "1Gi"})
def extract(n: int = 3):
    return list(range(n))


@step(inputs=["rows"], outputs=["Clean_Rows"], group="ingest", retry=1, timeout=30, resources={"cpu": 2})
def clean(rows):
    return rows


@step(inputs=["Clean_Rows"], outputs=["shards"])
def split(Clean_Rows):
    return [[r] for r in Clean_Rows]


@step(inputs=["shards"], outputs=["counts"], foreach="shards")
def count(shards):
    return len(shards)


@step(inputs=["counts"], outputs=["doubled"], foreach="counts", when="mode == 'full'")
def double(counts, mode: str = "full"):
    return counts * 2


@step(outputs=["per_region"], foreach="regions")
def region(regions: list = ["eu", "us"]):
    return regions


@step(inputs=["doubled", "per_region"], after=["clean"])
def report(doubled, per_region):
    return sum(doubled)


pipeline("plan-test", steps=[extract, clean, split, count, double, region, report])
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path = tmp_path_factory.mktemp("plan") / "flow.py"
    path.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    found, diagnostics = load(str(path))
    assert found is not None, diagnostics
    return found


@pytest.fixture(scope="module")
def plan(pipeline: Pipeline) -> Plan:
    return build_plan(pipeline, DNS)


def test_a_group_is_one_unit_standing_where_its_first_step_stood(plan: Plan) -> None:
    assert [(u.key, u.name) for u in plan.units] == [
        ("group:ingest", "ingest"),
        ("step:split", "split"),
        ("step:count", "count"),
        ("step:double", "double"),
        ("step:region", "region"),
        ("step:report", "report"),
    ]
    ingest = plan.units[0]
    assert [s.name for s in ingest.steps] == ["extract", "clean"]
    assert plan.owner["extract"] is plan.owner["clean"] is ingest
    # fused: the most retries, one attempt of each step, the largest need of each kind
    assert ingest.retry == Retry(2)
    assert ingest.timeout == 90
    assert ingest.worst_seconds == 60 * 3 + 30 * 2
    assert (ingest.resources.cpu, ingest.resources.memory) == (2, 2**30)


def test_names_follow_the_scheme_and_helpers_are_named_with_the_units(pipeline: Pipeline) -> None:
    scheme = NameScheme(NameRule(20, re.compile(r"[^a-z]"), lower=True), frozenset({"split"}), helpers=("when",))
    plan = build_plan(pipeline, scheme)
    names = [u.name for u in plan.units]
    assert len(set(names)) == len(names)
    assert "split" not in names  # reserved: the step's name ends with a hash instead
    assert plan.owner["split"].name.startswith("split-")
    helper = plan.owner["double"].helper("when")
    assert helper == "when-double" and helper not in names
    # Airflow's ids: unchanged step and group names, helpers alongside
    ids = build_plan(pipeline, AirflowBackend.NAMES)
    assert ids.owner["clean"].name == "ingest"
    assert ids.owner["double"].helper("when") == "when_double"
    assert ids.owner["count"].helper("items") == "items_count"


def test_a_chained_map_loops_over_its_origin_and_needs_the_origin(plan: Plan) -> None:
    origin = Loop("output", "shards", "split")
    assert plan.owner["count"].loops == (origin,)
    assert plan.owner["double"].loops == (origin,)  # not count's results: the same items
    assert plan.owner["double"].loop == origin
    assert plan.owner["region"].loops == (Loop("param", "regions"),)
    assert plan.owner["report"].loops == ()
    assert plan.owner["double"].upstream == ("count",)
    assert plan.owner["double"].needs == ("count", "split")  # the list comes from split
    assert plan.owner["split"].feeds == (("split", "shards"),)
    assert plan.owner["count"].feeds == ()  # a chained map reads its origin's list
    assert plan.loops == (origin, Loop("param", "regions"))


def test_reads_are_the_results_exec_reads_and_upstream_keeps_plan_order(plan: Plan) -> None:
    report = plan.owner["report"]
    assert report.upstream == ("ingest", "double", "region")  # after= counts too
    assert report.needs == ("double", "ingest", "region")
    # The items it gathers and the list their count comes from; not ingest (after= passes no
    # data) nor count (an ancestor whose results it does not read).
    assert plan.reads(report) == ("split", "double", "region")
    assert plan.reads(plan.owner["double"]) == ("split", "count")
    assert plan.reads(plan.owner["extract"]) == ()
    assert plan.reads(plan.owner["region"]) == ()
    assert plan.precedes("split", plan.owner["double"])  # through count, and as the loop's origin
    assert not plan.precedes("region", plan.owner["double"])
    assert not plan.precedes("double", plan.owner["split"])
    assert not plan.precedes("report", report)


def test_the_effective_condition_of_a_unit(plan: Plan) -> None:
    assert plan.owner["double"].condition == Compare("==", ParamRef("mode"), Const("full"))
    assert plan.owner["report"].condition == plan.owner["double"].condition  # a required producer's
    assert plan.owner["extract"].condition is None


def _valued_pipeline() -> Pipeline:
    """A switch on computed values, as the class dialect reads it: two conditions read
    ``start.kind``, one ``start.size``; nothing reads ``unread``."""
    kind = ArtifactRef("start", "kind")
    steps = (
        Step("start", "m:start", outputs=("kind", "size", "unread")),
        Step("fan", "m:fan", inputs=(Input("size", "start"),), outputs=("part",)),
        Step("a", "m:a", inputs=(Input("kind", "start"),), condition=Compare("==", kind, Const("x"))),
        Step("b", "m:b", inputs=(Input("kind", "start"),), condition=Compare("!=", kind, Const("x"))),
        Step(
            "c", "m:c", inputs=(Input("size", "start"),), condition=Compare(">", ArtifactRef("start", "size"), Const(3))
        ),
    )
    edges = tuple(Edge("start", s, a) for s, a in (("fan", "size"), ("a", "kind"), ("b", "kind"), ("c", "size")))
    return Pipeline("valued", "flow.py", "flow", steps, edges)


def test_value_names_are_the_outputs_conditions_read_named_once() -> None:
    pipeline = _valued_pipeline()
    plan = build_plan(pipeline, ArgoBackend.NAMES)
    start = plan.owner["start"]
    assert start.values == (("start", "kind"), ("start", "size"))
    assert plan.values == start.values
    assert plan.value_names == {("start", "kind"): "value-start-kind", ("start", "size"): "value-start-size"}
    assert all(not u.values for u in plan.units if u is not start)
    # a target without a values rule gets the pairs but no names
    assert build_plan(pipeline, AirflowBackend.NAMES).value_names == {}


def test_a_foreach_step_publishes_no_value() -> None:
    """A condition reads one value, and a foreach step has one per item."""
    pipeline = _valued_pipeline()
    looped = tuple(replace(s, foreach=Foreach("param", "xs")) if s.name == "start" else s for s in pipeline.steps)
    assert build_plan(replace(pipeline, steps=looped), DNS).values == ()


# --- the command builder ----------------------------------------------------------------------

ARGO = ("steps", "pipeline", "store", "run_id", "assignments", "item", "foreach_out", "values_out")
SHELL = ("rollback", "steps", "pipeline", "run_id", "store", "params", "item", "retry")
CALL = ExecCall("python", "flow.py", "demo", run_id="r1", store="s3://b/store")


def test_the_argv_of_a_step() -> None:
    call = replace(CALL, steps=("train",), assignments=("lr=0.1",))
    assert call.argv(ARGO) == [
        "python", "-m", "stepc", "exec", "flow.py", "--step", "train", "--pipeline", "demo",
        "--store", "s3://b/store", "--run-id", "r1", "-p", "lr=0.1",
    ]  # fmt: skip


def test_the_argv_of_a_group_names_every_step_in_order() -> None:
    call = replace(CALL, steps=("extract", "clean"), values_out="/tmp/v")
    assert call.argv(ARGO)[5:9] == ["--step", "extract", "--step", "clean"]
    assert call.argv(ARGO)[-2:] == ["--values-out", "/tmp/v"]


def test_the_argv_of_an_item_with_retry_in_a_shell() -> None:
    call = ExecCall('"$PY"', '"$FLOW"', '"$P"', steps=('"$S"',), run_id='"$R"', store='"$ST"', item='"$I"', retry=True)
    line = shell_line(call.argv(SHELL))
    assert (
        line
        == '"$PY" -m stepc exec "$FLOW" --step "$S" --pipeline "$P" --run-id "$R" --store "$ST" --item "$I" --retry'
    )
    assert call.words("item") == ["--item", '"$I"']


def test_the_argv_of_a_rollback() -> None:
    call = replace(CALL, rollback=True)
    assert call.argv(SHELL) == [
        "python", "-m", "stepc", "exec", "flow.py", "--rollback", "--pipeline", "demo", "--run-id", "r1",
        "--store", "s3://b/store",
    ]  # fmt: skip


def test_an_order_table_that_leaves_out_a_set_value_is_a_bug() -> None:
    with pytest.raises(AssertionError, match="item"):
        replace(CALL, steps=("a",), item="0").argv(("steps", "pipeline", "run_id", "store"))


@pytest.mark.parametrize("backend", [ArgoBackend, AirflowBackend, GitHubActionsBackend, ValohaiBackend])
def test_every_backend_computes_its_plan_once(backend: type, pipeline: Pipeline) -> None:
    target = backend(Config(None, {}))
    first = target.plan(pipeline)
    files, diagnostics = target.compile(pipeline)
    assert files, diagnostics
    assert target.plan(pipeline) is first
    assert target.units(pipeline) == list(first.units)


def test_the_generated_files_carry_the_builders_lines(pipeline: Pipeline) -> None:
    (airflow,), _ = AirflowBackend(Config(None, {})).compile(pipeline)
    assert (
        '"$STEPC_PYTHON" -m stepc exec "$STEPC_FLOW" --step "$STEPC_STEP_1" --step "$STEPC_STEP_2"' in airflow.content
    )
