"""The interpreter runs class-dialect steps: real child processes, real store files, IR built by
hand here so that the runtime is tested apart from the front end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepc
from stepc.interpreter import run_pipeline
from stepc.ir import ArtifactRef, Compare, Const, Edge, Foreach, Input, Parameter, Pipeline, Retry, Step
from stepc.runtime.flowspec import ExceptionWrapper

RUN = Path(__file__).resolve().parent / "flows" / "run"
FLOW = RUN / "classflow.py"
FEATURES = RUN / "classflow_features.py"
METAFLOW = RUN / "classflow_metaflow.py"


def _step(cls: str, name: str, inputs: tuple[Input, ...] = (), outputs: tuple[str, ...] = (), **kw: object) -> Step:
    module = cls.split(":")[0]
    return Step(name, f"{module}:{cls.split(':')[1]}.{name}", kind="flowspec", inputs=inputs, outputs=outputs, **kw)  # type: ignore[arg-type]


def _edges(*pairs: str) -> tuple[Edge, ...]:
    return tuple(Edge(*pair.split(">")) for pair in pairs)


def _result_json(store: Path, run_id: str, step: str, item: int | None = None) -> dict[str, object]:
    task = store / "runs" / run_id / step / ("" if item is None else f"items/{item}")
    data: dict[str, object] = json.loads((task / "result.json").read_text(encoding="utf-8"))
    return data


SWEEP = "classflow:Sweep"
PIPELINE = Pipeline(
    name="sweep",
    source="classflow.py",
    module="classflow",
    params=(Parameter("alpha", "float", 0.5),),
    steps=(
        _step(SWEEP, "start", outputs=("values",)),
        _step(SWEEP, "square", (Input("values", "start"),), ("squares",)),
        _step(SWEEP, "cube", (Input("values", "start"),), ("cubes",)),
        _step(
            SWEEP,
            "merge",
            (Input("squares", "square", views=("square",)), Input("cubes", "cube", views=("cube",))),
            ("pairs",),
        ),
        _step(
            SWEEP,
            "score",
            (Input("pairs", "merge", "item"),),
            ("score_value",),
            params=("alpha",),
            foreach=Foreach("input", "pairs"),
            scope=("score",),
        ),
        _step(SWEEP, "gather", (Input("score_value", "score", "gather", views=("score",)),), ("total",)),
        _step(SWEEP, "end", (Input("total", "gather"),), ("result",)),
    ),
    edges=_edges(
        "start>square", "start>cube", "square>merge", "cube>merge", "merge>score", "score>gather", "gather>end"
    ),  # fmt: skip
)


def test_class_dialect_steps_fan_out_foreach_and_join(tmp_path: Path) -> None:
    """A class deriving from neither stepc's nor Metaflow's FlowSpec runs too."""
    r = run_pipeline(PIPELINE, FLOW, {"alpha": 2.0}, store=tmp_path, workers=2)
    assert r.ok, r.error
    assert r["merge"].outputs["pairs"] == [(1, 1), (4, 8), (9, 27)]
    assert r["score"].outputs["score_value"] == [4.0, 24.0, 72.0]
    assert r["end"].outputs["result"] == 100.0
    assert _result_json(tmp_path, r.run_id, "start")["next"] == ["square", "cube"]
    assert _result_json(tmp_path, r.run_id, "score", 2)["next"] == ["gather"]
    assert "next" not in _result_json(tmp_path, r.run_id, "end")


BR = "classflow_features:Branches"
START_OUT = ("values", "shared", "route", "big")
BRANCHES = Pipeline(
    name="branches",
    source="classflow_features.py",
    module="classflow_features",
    params=(Parameter("learning_rate", "float", 0.5), Parameter("mode", "str", "train")),
    steps=(
        _step(BR, "start", outputs=START_OUT, params=("learning_rate", "mode")),
        _step(BR, "square", (Input("values", "start"),), ("x", "tag")),
        _step(BR, "cube", (Input("values", "start"),), ("x", "tag", "only_cube")),
        _step(
            BR,
            "merge",
            (
                Input("x", "square", views=("square",)),
                Input("tag", "square", views=("square",)),
                Input("x", "cube", views=("cube",)),
                Input("tag", "cube", views=("cube",)),
                Input("only_cube", "cube", views=("cube",)),
                *(Input(name, "start", views=("square", "cube")) for name in START_OUT),
            ),
            ("sizes", "join_has_values", "conflicts", "tag", "missing", "both", "has_big", "x", "only_cube")
            + START_OUT,
        ),
        _step(
            BR,
            "fit",
            outputs=("result",),
            params=("learning_rate",),
            condition=Compare("==", ArtifactRef("merge", "route"), Const("train")),
        ),
        _step(
            BR,
            "describe",
            outputs=("result",),
            condition=Compare("==", ArtifactRef("merge", "route"), Const("report")),
        ),
        _step(
            BR,
            "end",
            (
                Input("result", "fit", optional=True),
                Input("result", "describe", optional=True),
                Input("x", "merge"),
                Input("only_cube", "merge"),
                Input("shared", "merge"),
                Input("tag", "merge"),
            ),
            ("summary",),
        ),
    ),
    edges=_edges(
        "start>square",
        "start>cube",
        "square>merge",
        "cube>merge",
        "merge>fit",
        "merge>describe",
        "fit>end",
        "describe>end",
        "merge>end",
    ),  # fmt: skip
)


def test_static_join_views_merge_artifacts_and_switch(tmp_path: Path) -> None:
    r = run_pipeline(BRANCHES, FEATURES, {}, store=tmp_path, workers=2)
    assert r.ok, r.error
    merged = r["merge"].outputs
    # Views in self.next order, by index and by name; a join gets no input as an attribute.
    assert merged["sizes"] == [2, 14, 36, [14, 36]]
    assert merged["join_has_values"] is False
    # merge_artifacts(inputs): x and tag differ, nothing is set; then with tag set and x excluded
    # the rest merges; include of an unknown name and include with exclude are errors.
    assert merged["conflicts"] == ["tag", "x"]
    assert merged["tag"] == "merged" and merged["only_cube"] == 7 and merged["shared"] == "same"
    assert merged["missing"] == ["nowhere"]
    assert "not both" in merged["both"]
    # 'big' was never set upstream: absent everywhere, not an error; nor is the unset output x.
    assert merged["has_big"] is False and "big" not in merged and "x" not in merged
    assert r["fit"].status == "succeeded" and r["describe"].status == "skipped"
    assert r["end"].outputs["summary"] == {
        "result": "fitted at 0.5",  # the parameter 'learning_rate' is the attribute 'rate'
        "has_x": False,
        "only_cube": 7,
        "shared": "same",
        "tag": "merged",
        "stack": [],
        "index": None,
        "flow": "Branches",  # self.name, as in Metaflow
    }
    switch = _result_json(tmp_path, r.run_id, "merge")
    assert switch["next"] == ["fit"] and switch["switch"] == "train"
    assert _result_json(tmp_path, r.run_id, "start")["next"] == ["square", "cube"]


def test_switch_takes_the_other_case_and_an_optional_artifact_appears(tmp_path: Path) -> None:
    r = run_pipeline(BRANCHES, FEATURES, {"mode": "report", "learning_rate": 2.0}, store=tmp_path, workers=2)
    assert r.ok, r.error
    assert r["fit"].status == "skipped" and r["describe"].status == "succeeded"
    assert r["merge"].outputs["has_big"] is True
    assert r["end"].outputs["summary"]["result"] == "described"
    assert _result_json(tmp_path, r.run_id, "merge")["switch"] == "report"


def test_switch_value_outside_the_cases_fails_the_step(tmp_path: Path) -> None:
    r = run_pipeline(BRANCHES, FEATURES, {"mode": "bogus"}, store=tmp_path, workers=2)
    assert not r.ok
    assert r["merge"].status == "failed"
    assert "switch condition self.route is 'bogus', which is none of the cases ['train', 'report']" in (r.error or "")
    assert r["end"].status == "not_run"


FO = "classflow_features:Fanout"
FANOUT = Pipeline(
    name="fanout",
    source="classflow_features.py",
    module="classflow_features",
    steps=(
        _step(FO, "start", outputs=("items", "base")),
        _step(
            FO,
            "work",
            (Input("items", "start", "item"), Input("base", "start")),
            ("stack", "seen", "score"),
            foreach=Foreach("input", "items"),
            scope=("work",),
        ),
        _step(
            FO,
            "refine",
            (Input("score", "work", "item"), Input("seen", "work", "item")),
            ("again",),
            foreach=Foreach("input", "seen"),
            scope=("work",),
        ),
        _step(
            FO,
            "gather",
            (
                Input("again", "refine", "gather", views=("refine",)),
                Input("score", "work", "gather", views=("refine",)),
                Input("base", "start", views=("refine",)),
            ),
            ("n", "scores", "agains", "bases", "base", "outside"),
        ),
        _step(FO, "end", (Input("base", "gather"), Input("n", "gather")), ("total",)),
    ),
    edges=_edges("start>work", "work>refine", "refine>gather", "work>gather", "start>gather", "gather>end"),
)


def test_foreach_input_index_stack_chained_step_and_join(tmp_path: Path) -> None:
    r = run_pipeline(FANOUT, FEATURES, {}, store=tmp_path, workers=2)
    assert r.ok, r.error
    work = r["work"].outputs
    assert work["stack"] == [[(0, 3, "a")], [(1, 3, "b")], [(2, 3, "c")]]
    assert work["seen"] == [(0, "a", "a", 10), (1, "b", "b", 10), (2, "c", "c", 10)]
    assert work["score"] == [10, None, 12]  # item 1 did not set it
    gathered = r["gather"].outputs
    assert gathered["n"] == 3
    assert gathered["scores"] == [10, None, 12]
    # The step inside the foreach keeps the foreach's input, index and stack; 'score' is absent
    # for the item that did not set it.
    assert gathered["agains"] == [
        (0, "a", [(0, 3, "a")], True),
        (1, "b", [(1, 3, "b")], False),
        (2, "c", [(2, 3, "c")], True),
    ]
    assert gathered["bases"] == [10, 10, 10] and gathered["base"] == 10
    assert gathered["outside"] == ([], None, None)
    assert r["end"].outputs["total"] == 13
    assert _result_json(tmp_path, r.run_id, "start")["next"] == ["work"]


CA = "classflow_features:Caught"
CAUGHT = Pipeline(
    name="caught",
    source="classflow_features.py",
    module="classflow_features",
    steps=(
        _step(CA, "start", outputs=("keep",)),
        _step(CA, "risky", (Input("keep", "start"),), ("keep", "partial"), retry=Retry(1), catch="risky_error"),
        _step(CA, "safe", outputs=("value", "safe_error"), catch="safe_error"),
        _step(
            CA,
            "end",
            (
                Input("risky_error", "risky"),
                Input("partial", "risky"),
                Input("keep", "risky"),
                Input("safe_error", "safe"),
                Input("value", "safe"),
            ),
            ("summary",),
        ),
    ),
    edges=_edges("start>risky", "risky>safe", "safe>end", "risky>end"),
)


def test_catch_after_the_last_retry_saves_the_exception_and_what_was_set(tmp_path: Path) -> None:
    r = run_pipeline(CAUGHT, FEATURES, {}, store=tmp_path, workers=2)
    assert r.ok, r.error
    assert r["risky"].status == "succeeded" and r["risky"].attempts == 2  # retried first
    assert r["end"].outputs["summary"] == {
        "wrapper": "ExceptionWrapper",
        "type": "builtins.ValueError",
        "exception": "boom on attempt 2",
        "traceback": True,
        "has_partial": True,  # set before the exception: saved, as Metaflow does
        "keep": "changed",
        "safe_error": None,  # no exception: the variable is None
        "value": 1,
    }
    wrapper = r["risky"].outputs["risky_error"]
    assert isinstance(wrapper, ExceptionWrapper)
    assert "ValueError: boom on attempt 2" in str(wrapper)
    result = _result_json(tmp_path, r.run_id, "risky")
    assert result["status"] == "succeeded" and result["caught"] == "ValueError: boom on attempt 2"
    assert "next" not in result
    first = json.loads((tmp_path / "runs" / r.run_id / "risky" / "status.1.json").read_text(encoding="utf-8"))
    assert first["status"] == "failed"
    log = (tmp_path / "runs" / r.run_id / "risky" / "log.2.txt").read_text(encoding="utf-8")
    assert "@catch caught ValueError in step 'risky' (stored in self.risky_error)" in log


SL = "classflow_features:Slow"
SLOW = Pipeline(
    name="slow",
    source="classflow_features.py",
    module="classflow_features",
    steps=(
        _step(SL, "start", outputs=("before", "timeout_error"), timeout=2, catch="timeout_error"),
        _step(SL, "end", (Input("timeout_error", "start"), Input("before", "start")), ("summary",)),
    ),
    edges=_edges("start>end"),
)


def test_catch_handles_a_timeout_of_the_last_attempt(tmp_path: Path) -> None:
    r = run_pipeline(SLOW, FEATURES, {}, store=tmp_path, workers=1)
    assert r.ok, r.error
    assert r["start"].status == "succeeded" and r["start"].duration is not None and r["start"].duration < 10
    assert r["end"].outputs["summary"] == (
        "stepc.runtime.flowspec.StepTimeout",
        "step 'start' timed out after 2s",
        "set before sleeping",
    )


BROKEN = Pipeline(
    name="broken",
    source="classflow_features.py",
    module="classflow_features",
    steps=(
        _step("classflow_features:Broken", "start", outputs=("x",)),
        _step("classflow_features:Broken", "end", (Input("x", "start"),)),
    ),
    edges=_edges("start>end"),
)


def test_a_step_without_self_next_fails(tmp_path: Path) -> None:
    r = run_pipeline(BROKEN, FEATURES, {}, store=tmp_path, workers=1)
    assert not r.ok
    assert r["start"].status == "failed"
    assert "step 'start' did not call self.next(...)" in (r.error or "")


MF = "classflow_metaflow:MetaSweep"
METASWEEP = Pipeline(
    name="metasweep",
    source="classflow_metaflow.py",
    module="classflow_metaflow",
    params=(Parameter("factor", "int", 2),),
    steps=(
        _step(MF, "start", outputs=("items", "offset")),
        _step(
            MF,
            "work",
            (Input("items", "start", "item"), Input("offset", "start")),
            ("product", "where"),
            params=("factor",),
            foreach=Foreach("input", "items"),
            scope=("work",),
        ),
        _step(
            MF,
            "join",
            (
                Input("product", "work", "gather", views=("work",)),
                Input("where", "work", "gather", views=("work",)),
                Input("items", "start", views=("work",)),
                Input("offset", "start", views=("work",)),
            ),
            ("products", "wheres", "items", "offset", "mode"),
        ),
        _step(MF, "big", outputs=("label",), condition=Compare("==", ArtifactRef("join", "mode"), Const("big"))),
        _step(MF, "small", outputs=("label",), condition=Compare("==", ArtifactRef("join", "mode"), Const("small"))),
        _step(
            MF,
            "end",
            (
                Input("label", "big", optional=True),
                Input("label", "small", optional=True),
                Input("products", "join"),
                Input("offset", "join"),
            ),
            ("total", "end_error"),
            catch="end_error",
        ),
    ),
    edges=_edges("start>work", "work>join", "start>join", "join>big", "join>small", "big>end", "small>end", "join>end"),
)


def test_a_flow_on_metaflow_classes_runs_with_stepc_semantics(tmp_path: Path) -> None:
    """Metaflow is a dev dependency: importing it in the flow must work (no skip)."""
    r = run_pipeline(METASWEEP, METAFLOW, {"factor": 3}, store=tmp_path, workers=2)
    assert r.ok, r.error
    assert r["work"].outputs["product"] == [103, 106, 109]
    assert r["work"].outputs["where"] == [(0, [(0, 3, 1)]), (1, [(1, 3, 2)]), (2, [(2, 3, 3)])]
    joined = r["join"].outputs
    assert joined["products"] == [103, 106, 109] and joined["offset"] == 100 and joined["items"] == [1, 2, 3]
    assert joined["mode"] == "big" and r["small"].status == "skipped"
    assert _result_json(tmp_path, r.run_id, "join")["switch"] == "big"
    # end reads an attribute nothing set: AttributeError, caught by Metaflow's own @catch.
    error = r["end"].outputs["end_error"]
    assert isinstance(error, ExceptionWrapper) and error.type == "builtins.AttributeError"
    assert error.exception == "Flow MetaSweep has no attribute 'missing_attribute'"
    assert "total" not in r["end"].outputs
    small = run_pipeline(METASWEEP, METAFLOW, {"factor": 1}, store=tmp_path, workers=2)
    assert small.ok, small.error
    assert small["join"].outputs["mode"] == "small" and small["big"].status == "skipped"


def test_class_dialect_names_are_inert_at_run_time() -> None:
    """The decorators hand the method back unchanged, bare or with arguments; FlowSpec's
    run-time methods need a running step."""

    def method(self: object) -> None:
        pass

    for decorator in (stepc.retry, stepc.timeout, stepc.resources, stepc.catch, stepc.step):
        assert decorator(method) is method
    assert stepc.retry(times=2, minutes_between_retries=1)(method) is method
    assert stepc.catch(var="error", print_exception=False)(method) is method
    assert stepc.resources(cpu=2, memory=4096, gpu=1, disk=1024)(method) is method
    param = stepc.Parameter("alpha", default=0.1, type=float, help="rate", required=False)
    assert (param.name, param.default, param.type, param.help, param.required) == ("alpha", 0.1, float, "rate", False)

    class Flow(stepc.FlowSpec):
        pass

    with pytest.raises(RuntimeError, match="only while stepc runs a step"):
        Flow().next()
    with pytest.raises(RuntimeError, match="only while stepc runs a step"):
        _ = Flow().input
    with pytest.raises(AttributeError, match="Flow Flow has no attribute 'x'"):
        _ = Flow().x


EM = "classflow_features:Empty"
EMPTY = Pipeline(
    name="empty",
    source="classflow_features.py",
    module="classflow_features",
    steps=(
        _step(EM, "start", outputs=("items",)),
        _step(EM, "work", (Input("items", "start", "item"),), foreach=Foreach("input", "items"), scope=("work",)),
        _step(EM, "end", after=("work",)),
    ),
    edges=_edges("start>work", "work>end"),
)


def test_a_foreach_over_an_empty_list_fails_the_splitting_step(tmp_path: Path) -> None:
    r = run_pipeline(EMPTY, FEATURES, {}, store=tmp_path, workers=1)
    assert not r.ok
    assert r["start"].status == "failed" and r["work"].status == "not_run"
    assert "the foreach over self.items produced zero splits" in (r.error or "")


def test_a_bare_retry_retries_at_once_as_metaflow_runs_locally(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "STEPC_TEST_MARKER": str(tmp_path / "marker")}
    store = tmp_path / "store"
    # A 2-minute wait (the engines' default for a bare @retry) would outlast the timeout.
    done = subprocess.run(
        [sys.executable, "-m", "stepc", "run", str(RUN / "bare_retry.py"), "--store", str(store)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = (store / "runs").iterdir()
    result = _result_json(store, run_dir.name, "start")
    assert result["attempt"] == 2 and result["status"] == "succeeded"
