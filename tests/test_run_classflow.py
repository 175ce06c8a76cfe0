"""The interpreter runs class-dialect steps (hand-built IR until the front end reads them)."""

from __future__ import annotations

from pathlib import Path

from stepc.interpreter import run_pipeline
from stepc.ir import Edge, Foreach, Input, Parameter, Pipeline, Step

FLOW = Path(__file__).resolve().parent / "flows" / "run" / "classflow.py"


def _step(name: str, inputs: tuple[Input, ...] = (), outputs: tuple[str, ...] = (), **kw: object) -> Step:
    return Step(name, f"classflow:Sweep.{name}", kind="flowspec", inputs=inputs, outputs=outputs, **kw)  # type: ignore[arg-type]


PIPELINE = Pipeline(
    name="sweep",
    source="classflow.py",
    module="classflow",
    params=(Parameter("alpha", "float", 0.5),),
    steps=(
        _step("start", outputs=("values",)),
        _step("square", (Input("values", "start"),), ("squares",)),
        _step("cube", (Input("values", "start"),), ("cubes",)),
        _step("merge", (Input("squares", "square"), Input("cubes", "cube")), ("pairs",)),
        _step(
            "score",
            (Input("pairs", "merge", "item"),),
            ("score_value",),
            params=("alpha",),
            foreach=Foreach("input", "pairs"),
        ),
        _step("gather", (Input("score_value", "score", "gather"),), ("total",)),
        _step("end", (Input("total", "gather"),), ("result",)),
    ),
    edges=(
        Edge("start", "square", "values"),
        Edge("start", "cube", "values"),
        Edge("square", "merge", "squares"),
        Edge("cube", "merge", "cubes"),
        Edge("merge", "score", "pairs"),
        Edge("score", "gather", "score_value"),
        Edge("gather", "end", "total"),
    ),
)


def test_class_dialect_steps_fan_out_foreach_and_join(tmp_path: Path) -> None:
    r = run_pipeline(PIPELINE, FLOW, {"alpha": 2.0}, store=tmp_path, workers=2)
    assert r.ok, r.error
    assert r["merge"].outputs["pairs"] == [(1, 1), (4, 8), (9, 27)]
    assert r["score"].outputs["score_value"] == [4.0, 24.0, 72.0]
    assert r["end"].outputs["result"] == 100.0
