"""``from stepc import current`` inside a step: who it is, its progress, metrics and events, in
the store, under `stepc run` and under `stepc exec` alike. Real runs of the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepc
from stepc.runtime.store import Store
from tests.helpers import stepc as stepc_cli

FLOW = """
from stepc import current, pipeline, step


@step(outputs=["xs"])
def make(lr: float = 0.5):
    current.progress(1, 2)
    current.metrics({"rows": 2})
    current.log("made", {"n": 2})
    current.progress(2, 2)
    return [10, 20]


@step(inputs=["xs"], outputs=["who"], foreach="xs")
def each(xs, lr: float = 0.5):
    current.metrics({"loss": xs * lr})
    current.metrics({"best": True})  # merged with the ones before
    return [current.run_id, current.step, current.item, current.attempt, current.params]


@step(outputs=["bad"])
def bad():
    current.metrics({"model": object()})
    return 0


pipeline("ctx", steps=[make, each])
pipeline("broken", steps=[bad])
"""


def _flow(tmp_path: Path) -> Path:
    flow = tmp_path / "ctx.py"
    flow.write_text(FLOW)
    return flow


def test_a_step_knows_itself_and_records_metrics_and_events(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    result = stepc.run(str(flow), {"lr": 2.0}, pipeline="ctx", store=tmp_path / "store")
    assert result.ok, result.error
    assert result["each"].outputs["who"] == [
        [result.run_id, "each", "0", 1, {"lr": 2.0}],
        [result.run_id, "each", "1", 1, {"lr": 2.0}],
    ]
    store = Store(tmp_path / "store")
    make_dir = store.task_dir(result.run_id, "make", None)
    assert json.loads((make_dir / "progress.json").read_text()) == {"done": 2.0, "total": 2.0}
    (event,) = [json.loads(line) for line in (make_dir / "events.jsonl").read_text().splitlines()]
    assert event["event"] == "made" and event["data"] == {"n": 2} and event["attempt"] == 1
    listed = stepc_cli("metrics", result.run_id, "--json", "--store", str(tmp_path / "store"))
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows == [
        {"step": "make", "item": None, "metric": "rows", "value": 2},
        {"step": "each", "item": "0", "metric": "best", "value": True},
        {"step": "each", "item": "0", "metric": "loss", "value": 20.0},
        {"step": "each", "item": "1", "metric": "best", "value": True},
        {"step": "each", "item": "1", "metric": "loss", "value": 40.0},
    ]
    shown = stepc_cli("show", result.run_id, "--store", str(tmp_path / "store"))
    assert shown.returncode == 0 and "metrics" in shown.stdout and "loss" in shown.stdout


def test_metrics_under_stepc_exec_land_in_the_engine_store(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    store = str(tmp_path / "engine-store")
    ran = stepc_cli("exec", str(flow), "--pipeline", "ctx", "--step", "make", "--run-id", "r1", "--store", store)
    assert ran.returncode == 0, ran.stderr
    listed = stepc_cli("metrics", "r1", "--json", "--store", store)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"step": "make", "item": None, "metric": "rows", "value": 2}


def test_a_metric_that_is_not_json_fails_the_step_at_the_call(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    result = stepc.run(str(flow), pipeline="broken", store=tmp_path / "store")
    assert not result.ok and "TypeError" in (result.error or "")
    log = Store(tmp_path / "store").log_path(result.run_id, "bad", None, 1).read_text()
    assert "must be a JSON value" in log and "in bad" in log


def test_current_outside_a_step_says_so() -> None:
    with pytest.raises(RuntimeError, match="only while a step runs"):
        _ = stepc.current.run_id
