"""Conditions on upstream artifacts (a class-dialect switch on a computed attribute), one input
name from several producers (a switch's merge, a join's views) and ``@catch``, through every
backend: what each emits passes the target's own validators, and what the engine decides
before `stepc exec` runs is never stricter than the condition (exact for plain values).

The IR is built by hand in the shape the class dialect's front end makes, over the real flow
module ``tests/flows/conditions/switch.py`` (whose IR the front end reads the same way); the
runs here call `stepc exec`'s entry point in process, and test_gha_run, test_valohai_run and
test_airflow run the compiled files of that flow.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from stepc.backends.argo_lint import lint_documents

from stepc.config import Config
from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Const,
    Edge,
    Input,
    Not,
    Parameter,
    Pipeline,
    Retry,
    Step,
    evaluate,
    freeze,
)
from stepc.runtime import entry
from stepc.runtime.store import Store
from stepc.targets import load_target
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import REPO

FLOW = "tests/flows/conditions/switch.py"
MODE = ArtifactRef("route", "mode")


def _step(name: str, inputs: tuple[Input, ...] = (), outputs: tuple[str, ...] = (), **kw: Any) -> Step:
    return Step(name, f"switch:Switch.{name}", kind="flowspec", inputs=inputs, outputs=outputs, **kw)


def switch_pipeline(train: Condition | None = None, report: Condition | None = None) -> Pipeline:
    """start -> route (sets ``mode``) -> fit | describe (by ``mode``) -> end (``result`` from
    either branch: the same input name from two producers, both optional)."""
    train = train or Compare("==", MODE, Const("train"))
    report = report or Compare("==", MODE, Const("report"))
    values = Input("values", "start")
    return Pipeline(
        name="switch",
        source=FLOW,
        module="switch",
        params=(Parameter("choice", "str", "train"), Parameter("fail_fit", "bool", False)),
        steps=(
            _step("start", outputs=("values",)),
            _step("route", (values,), ("mode",), params=("choice",)),
            _step(
                "fit",
                (values,),
                ("fit_error", "result"),
                params=("fail_fit",),
                when=train,
                condition=train,
                retry=Retry(2),
                catch="fit_error",
            ),
            _step("describe", (values,), ("result",), when=report, condition=report),
            _step(
                "end",
                (
                    Input("mode", "route"),
                    Input("result", "fit", optional=True),
                    Input("result", "describe", optional=True),
                ),
                ("summary",),
            ),
        ),
        edges=(
            Edge("start", "route", "values"),
            Edge("start", "fit", "values"),
            Edge("start", "describe", "values"),
            Edge("route", "fit"),
            Edge("route", "describe"),
            Edge("route", "end", "mode"),
            Edge("fit", "end", "result"),
            Edge("describe", "end", "result"),
        ),
    )


def join_pipeline() -> Pipeline:
    """A class-dialect join whose ``inputs`` views carry ``x`` from different producers: the
    square branch sets it, the cube branch passes on the one ``start`` set."""
    return Pipeline(
        name="views",
        source=FLOW,
        module="switch",
        steps=(
            _step("start", outputs=("x",)),
            _step("square", (Input("x", "start"),), ("x",)),
            _step("cube", (Input("x", "start"),), ("y",)),
            _step(
                "join",
                (
                    Input("x", "square", views=("square",)),
                    Input("x", "start", views=("cube",)),
                    Input("y", "cube", views=("cube",)),
                ),
                ("total",),
            ),
        ),
        edges=(
            Edge("start", "square", "x"),
            Edge("start", "cube", "x"),
            Edge("square", "join", "x"),
            Edge("start", "join", "x"),
            Edge("cube", "join", "y"),
        ),
    )


def compile_to(target: str, pipeline: Pipeline) -> dict[str, str]:
    backend = load_target(target)(Config(REPO, {}))
    files, diagnostics = backend.compile(pipeline)
    assert [d for d in diagnostics if d.severity == "error"] == [], diagnostics
    return {f.path: f.content for f in files}


# --- Argo: `when` on the producer's output parameter --------------------------------------------


def argo_workflow(pipeline: Pipeline) -> dict[str, Any]:
    (text,) = compile_to("argo", pipeline).values()
    assert lint_documents(text) == []
    (document,) = [d for d in yaml.safe_load_all(text) if d]
    for version in VERSIONS:
        assert validation_errors(document, version) == []
    return dict(document)


def argo_tasks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    main = next(t for t in document["spec"]["templates"] if t["name"] == "main")
    return {t["name"]: t for t in main["dag"]["tasks"]}


EXPR_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>\|\||&&|==|!=|!|[()\[\],.])|(?P<name>[A-Za-z_]\w*))')


def run_argo_when(tag: str, parameters: dict[tuple[str, str], str]) -> bool:
    """Evaluate a ``{{= }}`` tag of the subset the backend writes for artifact conditions
    (string literals, ``tasks[..].outputs.parameters[..]``, ==, !=, in, !, &&, ||) by reading it
    token by token into Python; anything else in the tag fails the test."""
    assert tag.startswith("{{=") and tag.endswith("}}")
    text, pos, words = tag[3:-2], 0, []
    while pos < len(text):
        m = EXPR_TOKEN.match(text, pos)
        assert m and m.end() > pos, f"unexpected text {text[pos:]!r}"
        pos = m.end()
        kind, token = m.lastgroup, m.group(m.lastgroup or "")
        if kind == "str":
            words.append(repr(json.loads(token)))
        elif kind == "op":
            words.append({"||": " or ", "&&": " and ", "!": " not "}.get(token, token))
        else:
            assert token in ("tasks", "outputs", "parameters", "in"), token
            words.append(f" {token} " if token == "in" else token)

    class Outputs:
        def __init__(self, task: str) -> None:
            self.parameters = {p: v for (t, p), v in parameters.items() if t == task}

    class Task:
        def __init__(self, task: str) -> None:
            self.outputs = Outputs(task)

    tasks = {t: Task(t) for t, _ in parameters}
    return bool(eval("".join(words), {"__builtins__": {}}, {"tasks": tasks}))  # noqa: S307 - the test's own reading


def test_argo_publishes_the_value_and_tests_it_in_when() -> None:
    document = argo_workflow(switch_pipeline())
    templates = {t["name"]: t for t in document["spec"]["templates"]}
    (param,) = templates["route"]["outputs"]["parameters"]
    assert param == {
        "name": "value-route-mode",
        "valueFrom": {"path": "/tmp/stepc/values/route/mode.txt", "default": "?"},
    }
    args = templates["route"]["container"]["args"]
    assert args[args.index("--values-out") + 1] == "/tmp/stepc/values"
    tasks = argo_tasks(document)
    assert tasks["fit"]["when"] == (
        '{{=(tasks["route"].outputs.parameters["value-route-mode"] == "?" || '
        '(tasks["route"].outputs.parameters["value-route-mode"] == "\\"train\\""))}}'
    )
    assert "when" not in tasks["end"] and "route" in tasks["end"]["depends"]
    assert "outputs" not in templates["fit"]  # nothing reads fit's values


def test_argo_string_constants_cannot_break_the_expression() -> None:
    nasty = "a\"} }}{{=1}} ' || true\n\\u007d"
    cond = Compare("==", MODE, Const(nasty))
    document = argo_workflow(switch_pipeline(train=cond))
    tag = argo_tasks(document)["fit"]["when"]
    assert tag.count("{{") == 1 and tag.count("}}") == 1
    key = ("route", "value-route-mode")
    assert run_argo_when(tag, {key: entry.value_text(nasty)})
    assert not run_argo_when(tag, {key: entry.value_text(nasty + "x")})


VALUES: list[Any] = [
    "train", "Train", "report", "", "1", 1, 1.0, True, False, 0, 0.0, -0.0, 2.5, None, 10**20, 1e20,
    float("nan"), float("inf"), [1], {"a": 1}, ("train",), "x" * 5000,
]  # fmt: skip
# (condition, whether `when` says it exactly for plain values)
CONDITIONS: list[tuple[Condition, bool]] = [
    (Compare("==", MODE, Const("train")), True),
    (Compare("!=", MODE, Const("train")), True),
    (Compare("==", Const("train"), MODE), True),
    (Compare("==", MODE, Const(1)), True),
    (Compare("!=", MODE, Const(True)), True),
    (Compare("==", MODE, Const(None)), True),
    (Compare("==", MODE, Const(2.5)), True),
    (Compare("in", MODE, Const(freeze(["train", 1, None]))), True),
    (Compare("not in", MODE, Const(freeze(["report", 0]))), True),
    (Not(Compare("==", MODE, Const("train"))), True),
    (BoolOp("or", (Compare("==", MODE, Const("train")), Compare("==", MODE, Const(1)))), True),
    (Compare(">", MODE, Const(1)), False),  # ordering: left to exec
    (Compare("in", Const("a"), MODE), False),  # substring or membership: left to exec
    (BoolOp("and", (Compare("!=", MODE, Const(None)), Compare(">", MODE, Const(0)))), False),
    (Compare("==", MODE, ArtifactRef("start", "values")), False),  # a list: never plain, exec decides
]


@pytest.mark.parametrize(("cond", "exact"), CONDITIONS, ids=[f"c{i}" for i in range(len(CONDITIONS))])
def test_argo_when_is_never_stricter_and_exact_for_plain_values(cond: Condition, exact: bool) -> None:
    tag = argo_tasks(argo_workflow(switch_pipeline(train=cond)))["fit"].get("when")
    for value in VALUES:
        try:
            truth = evaluate(cond, {}, {("route", "mode"): value, ("start", "values"): [1, 2, 3]})
        except TypeError:
            continue  # exec fails the step: no engine decision can be wrong
        if tag is None:
            continue  # nothing said: exec decides everything
        text = entry.value_text(value)
        published = {("route", "value-route-mode"): text, ("start", "value-start-values"): entry.VALUE_UNKNOWN}
        decided = run_argo_when(tag, published)
        assert decided or not truth, (value, tag)  # never skips a step that should run
        if exact and text != entry.VALUE_UNKNOWN:
            assert decided == truth, (value, tag)
    # The default (producer skipped, or exec never wrote the file) lets exec decide.
    if tag is not None:
        unknown = {("route", "value-route-mode"): "?", ("start", "value-start-values"): "?"}
        assert run_argo_when(tag, unknown)


def test_argo_drops_what_it_cannot_say_and_keeps_the_rest() -> None:
    guarded = Compare("==", MODE, Const("train"))
    ordered = Compare(">", MODE, Const(3))
    document = argo_workflow(switch_pipeline(train=BoolOp("and", (guarded, ordered))))
    tag = argo_tasks(document)["fit"]["when"]
    assert '\\"train\\"' in tag and ">" not in tag
    assert "when" not in argo_tasks(argo_workflow(switch_pipeline(train=ordered)))["fit"]


def test_argo_reads_no_value_of_a_producer_that_may_itself_be_skipped() -> None:
    """A producer with a `when` of its own may never set its outputs (Argo versions differ in
    what such a reference resolves to), so its values are left to exec."""
    base = switch_pipeline()
    gate = Compare("==", ArtifactRef("start", "values"), Const(None))  # hypothetical: route is conditional
    route = dataclasses.replace(base.step("route"), when=gate, condition=gate)
    steps = tuple(route if s.name == "route" else s for s in base.steps)
    document = argo_workflow(dataclasses.replace(base, steps=steps))
    assert "when" not in argo_tasks(document)["fit"]


# --- stepc exec: the values it reports and writes -----------------------------------------------


def test_value_text_is_equal_exactly_when_python_says_so() -> None:
    plain = [v for v in VALUES if entry.plain_value(v)]
    assert "x" * 5000 not in plain and float("nan") not in plain and [1] not in plain
    for a in plain:
        for b in plain:
            assert (entry.value_text(a) == entry.value_text(b)) == (a == b), (a, b)
    assert entry.value_text([1]) == entry.value_text(float("nan")) == entry.VALUE_UNKNOWN


def run_steps(pipeline: Pipeline, store: Store, params: dict[str, Any], *names: str) -> dict[str, dict[str, Any]]:
    messages = {}
    for name in names:
        message, code = entry.exec_task(pipeline, str(REPO / FLOW), name, "r1", store, params)
        assert code == 0, message["error"]
        messages[name] = message
    return messages


@pytest.mark.parametrize("choice", ["train", "report"])
def test_argo_run_takes_the_branch_exec_takes(tmp_path: Path, choice: str) -> None:
    """A run as Argo does it: exec of the producer writes the value file, `when` picks the
    branches, exec of each branch decides again; the two never disagree."""
    pipeline = switch_pipeline()
    tasks = argo_tasks(argo_workflow(pipeline))
    store = Store(tmp_path / "store")
    params = {"choice": choice, "fail_fit": False}
    done = run_steps(pipeline, store, params, "start", "route")
    assert done["route"]["values"] == {"route": {"mode": choice}}
    entry.write_values_out(tmp_path / "values", pipeline, pipeline.step("route"), done["route"])
    published = (tmp_path / "values" / "route" / "mode.txt").read_text(encoding="ascii")
    assert published == json.dumps(choice)
    for branch, wanted in (("fit", "train"), ("describe", "report")):
        started = run_argo_when(tasks[branch]["when"], {("route", "value-route-mode"): published})
        assert started == (choice == wanted)
        (message,) = run_steps(pipeline, store, params, branch).values()
        assert message["status"] == ("succeeded" if choice == wanted else "skipped")
    (end,) = run_steps(pipeline, store, params, "end").values()
    assert end["status"] == "succeeded"


def test_a_skipped_producer_writes_unknown(tmp_path: Path) -> None:
    pipeline = switch_pipeline()
    skipped = {"status": "skipped", "step": "route"}
    entry.write_values_out(tmp_path, pipeline, pipeline.step("route"), skipped)
    assert (tmp_path / "route" / "mode.txt").read_text(encoding="ascii") == entry.VALUE_UNKNOWN
    entry.write_values_out(tmp_path, pipeline, pipeline.step("fit"), skipped)  # reads nothing: no file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["route"]


# --- Airflow: a short-circuit after the producer, reading its control line ----------------------


def airflow_dag(pipeline: Pipeline) -> str:
    (text,) = compile_to("airflow", pipeline).values()
    return text


def when_functions(dag_text: str) -> dict[str, Any]:
    """The DAG file's condition helpers and ``_when*`` callables, run without Airflow: they are
    plain functions over the task context (only the DAG block needs Airflow)."""
    tree = ast.parse(dag_text)
    helpers = ("_control", "_values", "_maybe")
    wanted: list[ast.stmt] = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and (n.name in helpers or n.name.startswith("_when"))
    ]
    namespace: dict[str, Any] = {"json": json}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "dag", "exec"), namespace)  # noqa: S102
    return namespace


class XComs:
    """What Airflow's task instance answers in ``xcom_pull``: the last stdout line per task."""

    def __init__(self, lines: dict[str, str]) -> None:
        self.lines = lines

    def xcom_pull(self, task_ids: str) -> str | None:
        return self.lines.get(task_ids)


def test_airflow_short_circuits_after_the_producer() -> None:
    text = airflow_dag(switch_pipeline())
    assert "    [tasks['route']] >> when1\n    when1 >> [tasks['fit']]\n" in text
    assert "values = _values(context, {'route': 'route'})" in text
    assert "return bool(_maybe(lambda: values[('route', 'mode')] == 'train'))" in text
    ast.parse(text)


@pytest.mark.parametrize("choice", ["train", "report"])
def test_airflow_conditions_decide_as_exec_does(tmp_path: Path, choice: str) -> None:
    pipeline = switch_pipeline()
    functions = when_functions(airflow_dag(pipeline))
    store = Store(tmp_path)
    done = run_steps(pipeline, store, {"choice": choice, "fail_fit": False}, "start", "route")
    xcom = XComs({"route": "some log output\n" + json.dumps(done["route"])})
    context = {"params": {"choice": choice}, "ti": xcom}
    assert functions["_when1"](**context) == (choice == "train")
    assert functions["_when2"](**context) == (choice == "report")
    # No control line (the producer skipped, or pushed nothing): exec decides.
    unknown = {"params": {"choice": choice}, "ti": XComs({})}
    assert functions["_when1"](**unknown) and functions["_when2"](**unknown)


def test_airflow_mixed_condition_keeps_the_parameter_part_exact() -> None:
    param_part = Compare("==", ArtifactRef("route", "mode"), Const("train"))
    cond = BoolOp("and", (Compare("!=", MODE, Const("x")), param_part, Compare("<", MODE, Const(3))))
    functions = when_functions(airflow_dag(switch_pipeline(train=cond)))
    for mode in ("train", "x", 2, [1]):
        line = json.dumps({"values": {"route": {"mode": mode}}} if entry.plain_value(mode) else {})
        got = functions["_when1"](params={}, ti=XComs({"route": line}))
        try:
            truth = evaluate(cond, {}, {("route", "mode"): mode})
        except TypeError:
            truth = True
        assert got or not truth, mode


def test_airflow_dag_imports(tmp_path: Path) -> None:
    from tests import airflow_env
    from tests.test_airflow import dagbag

    python = airflow_env.ensure()
    paths = []
    for pipeline in (switch_pipeline(), join_pipeline()):
        path = tmp_path / f"{pipeline.name}_dag.py"
        path.write_text(airflow_dag(pipeline), encoding="utf-8")
        paths.append(path)
    loaded = dagbag(python, tmp_path, *paths)
    for path in paths:
        report = loaded[str(path)]
        assert report["errors"] == {}
        (dag,) = report["dags"].values()
        if path.name.startswith("switch"):
            assert {"when_fit", "when_describe"} <= set(dag["tasks"])


# --- GitHub Actions and Valohai: exec decides; the files stay valid ------------------------------


def gha_if(pipeline: Pipeline, job: str) -> str:
    (text,) = compile_to("gha", pipeline).values()
    guard = yaml.safe_load(text)["jobs"][job]["if"]
    assert guard.startswith("${{ ") and guard.endswith(" }}")
    return str(guard[4:-3])


@pytest.mark.parametrize(("cond", "exact"), CONDITIONS, ids=[f"c{i}" for i in range(len(CONDITIONS))])
def test_gha_if_is_never_stricter(cond: Condition, exact: bool) -> None:
    """fit's `if:` read with GitHub's rules (strings equal ignoring case), route's job output
    holding each value's text, or empty when GitHub skipped route: it never skips a step that
    should run, and decides numbers and null exactly."""
    from tests.test_gha_run import Expression

    guard = gha_if(switch_pipeline(train=cond), "fit")
    for value in [*VALUES, "TRAIN", None]:
        try:
            truth = evaluate(cond, {}, {("route", "mode"): value, ("start", "values"): [1, 2, 3]})
        except TypeError:
            continue
        for text in (entry.value_text(value), ""):
            needs = {
                "stepc-params": {"result": "success", "outputs": {"params": "{}"}},
                "route": {"result": "success", "outputs": {"value-route-mode": text}},
                "start": {"result": "success", "outputs": {}},
            }
            functions = {"cancelled": lambda: False, "failure": lambda: False, "fromJSON": json.loads}
            decided = Expression(guard, {"needs": needs}, functions).parse()
            assert decided or not truth, (value, text, guard)
            numeric = not any(isinstance(v, str) for v in (value, *_constants(cond)))
            if exact and numeric and text not in ("", entry.VALUE_UNKNOWN):
                assert bool(decided) == truth, (value, guard)


def _constants(cond: Condition) -> list[Any]:
    if isinstance(cond, Not):
        return _constants(cond.operand)
    if isinstance(cond, BoolOp):
        return [v for c in cond.operands for v in _constants(c)]
    found = [o.value for o in (cond.left, cond.right) if isinstance(o, Const)]
    return [v for f in found for v in (f if isinstance(f, tuple) else (f,))]


def test_gha_publishes_the_value_as_a_job_output() -> None:
    (text,) = compile_to("gha", switch_pipeline()).values()
    jobs = yaml.safe_load(text)["jobs"]
    assert jobs["route"]["outputs"] == {"value-route-mode": "${{ steps.run-1.outputs.value-route-mode }}"}
    (run,) = [s for s in jobs["route"]["steps"] if s.get("id") == "run-1"]
    assert json.loads(run["env"]["STEPC_VALUE_OUTPUTS"]) == {"value-route-mode": "mode"}
    assert "needs.route.outputs.value-route-mode == '\"train\"'" in jobs["fit"]["if"]
    assert "outputs" not in jobs["end"]


def test_gha_and_valohai_accept_the_shapes(tmp_path: Path) -> None:
    from tests.test_gha import validate
    from tests.test_valohai import check_valohai

    for pipeline in (switch_pipeline(), join_pipeline()):
        for path, text in compile_to("gha", pipeline).items():
            target = tmp_path / pipeline.name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            validate(target)
        (text,) = compile_to("valohai", pipeline).values()
        check_valohai(text)


def test_every_backend_keeps_one_input_name_from_several_producers_apart() -> None:
    """``result`` from fit and from describe, ``x`` from square and from start: each pair is
    two dependencies and two transfers, never one name overwriting the other."""
    tasks = argo_tasks(argo_workflow(join_pipeline()))
    assert set(tasks["join"]["depends"].split(" && ")) == {"cube", "square", "start"}
    assert set(argo_tasks(argo_workflow(switch_pipeline()))["end"]["depends"].split(" && ")) == {
        "describe",
        "fit",
        "route",
    }
    dag = airflow_dag(join_pipeline())
    assert {f"    tasks['{n}'] >> tasks['join']" for n in ("start", "square", "cube")} <= set(dag.splitlines())
    (valohai,) = compile_to("valohai", join_pipeline()).values()
    (pipeline,) = [d["pipeline"] for d in yaml.safe_load(valohai) if "pipeline" in d]
    feeding = {tuple(e) for e in pipeline["edges"] if e[1].startswith("join.")}
    assert feeding == {(f"{n}.output.*", f"join.input.stepc-{n}") for n in ("square", "cube", "start")}
    (gha,) = compile_to("gha", join_pipeline()).values()
    join = yaml.safe_load(gha)["jobs"]["join"]
    assert set(join["needs"]) == {"stepc-params", "square", "cube", "start"}


def test_catch_keeps_every_engines_retry_count() -> None:
    """``fit`` has @catch and two retries: each engine runs exec once per attempt (Argo's
    retryStrategy, Airflow's retries) or lets exec retry in one process (``--retry``), so exec
    always knows which attempt is the last."""
    pipeline = switch_pipeline()
    templates = {t["name"]: t for t in argo_workflow(pipeline)["spec"]["templates"]}
    assert templates["fit"]["retryStrategy"]["limit"] == "2"
    assert "--attempt" not in templates["fit"]["container"]["args"]
    assert "retries=2," in airflow_dag(pipeline)
    (workflow,) = compile_to("gha", pipeline).values()
    assert "STEPC_RETRY" in workflow


def test_plain_values_round_trip_through_the_control_line() -> None:
    for value in VALUES:
        if entry.plain_value(value):
            again = json.loads(json.dumps(value))
            assert again == value and type(again) is type(value)
            assert not (isinstance(value, float) and math.isnan(value))


def test_exec_cli_writes_values_and_the_control_line_carries_them(tmp_path: Path) -> None:
    """`stepc exec --values-out` on the real flow file (read by the front end): the value file
    an Argo output parameter reads, and ``values`` in the control line (also a group's last)."""
    from tests.helpers import stepc

    common = ["--run-id", "r1", "--store", str(tmp_path / "store"), "-p", "choice=report", "--values-out"]
    out = tmp_path / "values"
    first = stepc("exec", FLOW, "--step", "start", "--step", "route", *common, str(out))
    assert first.returncode == 0, first.stderr
    last = json.loads(first.stdout.splitlines()[-1])
    assert last["step"] == "route" and last["values"] == {"route": {"mode": "report"}}
    assert (out / "route" / "mode.txt").read_text(encoding="ascii") == '"report"'
    assert sorted(p.name for p in out.iterdir()) == ["route"]  # start's outputs feed no condition
    branch = stepc("exec", FLOW, "--step", "fit", *common, str(out))
    assert json.loads(branch.stdout.splitlines()[-1])["status"] == "skipped" and "values" not in branch.stdout
