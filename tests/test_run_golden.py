"""The shared example flows give the right results under the local interpreter."""

from __future__ import annotations

import os
from pathlib import Path

import stepc

ROOT = Path(__file__).resolve().parent.parent
IRIS = ROOT / "golden" / "iris_training.py"
ETL = ROOT / "golden" / "etl_branches.py"


def test_iris_training_picks_a_learning_rate_from_the_grid(tmp_path: Path) -> None:
    result = stepc.run(str(IRIS), store=tmp_path, workers=2)
    assert result.status == "succeeded", result.error
    report = result["evaluate"].outputs["report"]
    assert report["best_lr"] in (0.3, 0.1, 0.03)
    assert report["accuracy"] > 0.8
    train = result["train"]
    assert train.items == 3 and len(train.outputs["model"]) == 3
    assert [m["lr"] for m in train.outputs["model"]] == [0.3, 0.1, 0.03]  # joined in item order
    # split is cached on its input: the second run restores it
    again = stepc.run(str(IRIS), store=tmp_path, workers=2)
    assert again["split"].cached and not again["load"].cached
    assert again["evaluate"].outputs["report"] == report


def test_etl_default_mode_runs_full_scoring(tmp_path: Path) -> None:
    result = stepc.run(str(ETL), store=tmp_path, workers=2)
    assert result.ok, result.error
    assert result["full_scoring"].status == "succeeded"
    assert result["quick_scoring"].status == "skipped"
    summary = result["verify"].outputs["summary"]
    assert summary["rows"] == len(result["full_scoring"].outputs["scored"])
    os.remove(summary["path"])


def test_etl_quick_mode_merges_with_none(tmp_path: Path) -> None:
    result = stepc.run(str(ETL), {"mode": "quick"}, store=tmp_path, workers=2)
    assert result.ok, result.error
    assert result["full_scoring"].status == "skipped"
    assert result["quick_scoring"].status == "succeeded"
    sampled = result["quick_scoring"].outputs["sampled"]
    assert result["verify"].outputs["summary"]["rows"] == len(sampled)
    attempts = _attempts(tmp_path, result.run_id, "publish")
    assert attempts[0]["inputs"] == [f"{result.run_id}/quick_scoring/sampled"]  # scored=None: no artifact
    os.remove(result["verify"].outputs["summary"]["path"])


def test_etl_verify_failure_rolls_back_publish(tmp_path: Path) -> None:
    result = stepc.run(str(ETL), {"max_rows": 1}, store=tmp_path, workers=2)
    assert result.status == "failed"
    assert "verify" in (result.error or "")
    assert result["verify"].status == "failed" and result["verify"].attempts == 2  # retry=1
    published = result["publish"].outputs["published"]
    assert not os.path.exists(published)  # drop_published removed it
    assert result.rollbacks == (("publish", None, "succeeded"),)


def _attempts(store: Path, run_id: str, step: str) -> list[dict[str, object]]:
    from stepc.interpreter.rundb import RunDB

    db = RunDB(store / "stepc.db")
    try:
        return db.attempts(run_id, step)
    finally:
        db.close()


SWEEP = ROOT / "golden" / "metaflow_style.py"
SELECTION = ROOT / "golden" / "model_selection.py"


def test_metaflow_style_switch_takes_the_mode_given(tmp_path: Path) -> None:
    train = stepc.run(str(SWEEP), store=tmp_path, workers=2)
    assert train.ok, train.error
    scores = train["gather"].outputs["scores"]
    # (s + c) * alpha over the squares and cubes of 1..4, in item order after the foreach
    assert scores == [(v * v + v**3) * 0.5 for v in (1, 2, 3, 4)]
    assert train["describe"].status == "skipped"
    assert train["fit"].outputs == {"result": sum(scores) / 4, "fit_error": None}
    report = stepc.run(str(SWEEP), params={"mode": "report", "alpha": 1.0}, store=tmp_path, workers=2)
    assert report.ok, report.error
    assert report["fit"].status == "skipped"
    assert report["describe"].outputs["result"] == max(report["gather"].outputs["scores"]) == 80.0


def test_a_metaflow_flow_switches_on_a_computed_attribute(tmp_path: Path) -> None:
    reported = stepc.run(str(SELECTION), store=tmp_path, workers=2)
    assert reported.ok, reported.error
    assert reported["decide"].outputs["verdict"] == "report"
    assert reported["publish"].status == "skipped"
    summary = reported["end"].outputs["summary"]
    assert summary["families"] == ["linear", "tree"] and summary["destination"] == "reports/latest"
    published = stepc.run(str(SELECTION), params={"threshold": 0.1}, store=tmp_path, workers=2)
    assert published.ok, published.error
    assert published["report"].status == "skipped"
    best = published["collect"].outputs["best"]
    assert published["end"].outputs["summary"]["destination"] == f"models/{best}"


def test_a_branch_without_artifacts_still_has_its_view_in_the_join(tmp_path: Path) -> None:
    flow = tmp_path / "empty_branch.py"
    flow.write_text(
        "from stepc import FlowSpec, step\n\n\n"
        "class EmptyBranch(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.quiet, self.loud)\n\n"
        "    @step\n    def quiet(self):\n        self.next(self.join)\n\n"
        "    @step\n    def loud(self):\n        self.word = 'hi'\n        self.next(self.join)\n\n"
        "    @step\n    def join(self, inputs):\n"
        "        self.seen = [len(inputs), hasattr(inputs.quiet, 'word'), inputs.loud.word]\n"
        "        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
        encoding="utf-8",
    )
    result = stepc.run(str(flow), store=tmp_path / "store", workers=2)
    assert result.ok, result.error
    assert result["join"].outputs["seen"] == [2, False, "hi"]
