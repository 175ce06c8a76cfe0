"""``stepc exec``: one step attempt in a fresh process, as every backend runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IRIS = str(ROOT / "golden" / "iris_training.py")
ETL = str(ROOT / "golden" / "etl_branches.py")


def run_exec(store: Path, *args: str) -> tuple[dict[str, object], int, str]:
    r = subprocess.run(
        [sys.executable, "-m", "stepc", "exec", *args, "--store", f"file://{store}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = r.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else {}), r.returncode, r.stderr


def test_exec_runs_a_pipeline_step_by_step(tmp_path: Path) -> None:
    params = json.dumps({"learning_rates": [0.5, 0.05], "epochs": 5})
    grid, code, _ = run_exec(tmp_path, IRIS, "--step", "make_grid", "--run-id", "r1", "--params", params)
    assert code == 0
    assert grid["foreach"] == {"grid": {"count": 2, "items": [0, 1]}}  # what a backend fans out over
    assert grid["outputs"] == {"grid": "r1/make_grid/grid"}
    for step in ("load", "split"):
        assert run_exec(tmp_path, IRIS, "--step", step, "--run-id", "r1", "--params", params)[1] == 0
    not_yet, code, _ = run_exec(tmp_path, IRIS, "--step", "evaluate", "--run-id", "r1", "--params", params)
    assert code == 2 and "has not run" in str(not_yet["error"])
    for item in ("0", "1"):
        msg, code, _ = run_exec(tmp_path, IRIS, "--step", "train", "--item", item, "--run-id", "r1", "--params", params)
        assert code == 0 and msg["item"] == item  # the --item path, as given
    report, code, _ = run_exec(tmp_path, IRIS, "--step", "evaluate", "--run-id", "r1", "--params", params)
    assert code == 0 and report["status"] == "succeeded"
    result = json.loads((tmp_path / "runs" / "r1" / "evaluate" / "result.json").read_text())
    assert result["outputs"][0]["name"] == "report" and result["outputs"][0]["fmt"] == "pickle"


def test_exec_skips_and_passes_none(tmp_path: Path) -> None:
    quick = json.dumps({"mode": "quick"})
    # the "ingest" group: both steps in one process
    cleaned, code, _ = run_exec(
        tmp_path, ETL, "--step", "extract", "--step", "clean", "--run-id", "r2", "--params", quick
    )
    assert code == 0 and cleaned["step"] == "clean" and cleaned["outputs"] == {"clean": "r2/clean/clean"}
    skipped, code, _ = run_exec(tmp_path, ETL, "--step", "full_scoring", "--run-id", "r2", "--params", quick)
    assert code == 0 and skipped["status"] == "skipped"
    assert run_exec(tmp_path, ETL, "--step", "quick_scoring", "--run-id", "r2", "--params", quick)[1] == 0
    published, code, _ = run_exec(tmp_path, ETL, "--step", "publish", "--run-id", "r2", "--params", quick)
    assert code == 0
    path = json.loads((tmp_path / "runs" / "r2" / "publish" / "out.published.json").read_text())
    rows = json.loads(Path(path).read_text())
    assert len(rows) == 10 and all(r["score"] == 0.5 for r in rows)  # sampled, scored=None
    Path(path).unlink()


def test_exec_failure_keeps_the_log_and_exits_non_zero(tmp_path: Path) -> None:
    flow = str(Path(__file__).resolve().parent / "flows" / "run" / "failures.py")
    msg, code, err = run_exec(tmp_path, flow, "--pipeline", "boom", "--step", "boom", "--run-id", "r3")
    assert code == 1 and msg["status"] == "failed" and msg["error"] == "ValueError: boom"
    log = (tmp_path / "runs" / "r3" / "boom" / "log.1.txt").read_text()
    assert "Traceback" in log and "about to raise" in log
    assert "about to raise" in err  # echoed for the engine's log viewer
    again, code, _ = run_exec(tmp_path, flow, "--pipeline", "boom", "--step", "boom", "--run-id", "r3")
    assert again["attempt"] == 2


def test_exec_bad_params_and_step(tmp_path: Path) -> None:
    msg, code, err = run_exec(tmp_path, IRIS, "--step", "load", "--run-id", "r4", "--params", '{"n_rows": "x"}')
    assert code == 2 and "parameter 'n_rows' expects int" in err
    msg, code, err = run_exec(tmp_path, IRIS, "--step", "lod", "--run-id", "r4")
    assert code == 2 and "did you mean 'load'" in err


def test_exec_options_backends_use(tmp_path: Path) -> None:
    # -p overrides, --foreach-out writes the item list an engine fans out over
    out = tmp_path / "fanout"
    grid, code, _ = run_exec(
        tmp_path, IRIS, "--step", "make_grid", "--run-id", "r5", "-p", "learning_rates=[0.5, 0.1, 0.05]",
        "--foreach-out", str(out),
    )  # fmt: skip
    assert code == 0 and json.loads((out / "grid.json").read_text()) == [0, 1, 2]
    stored = json.loads((tmp_path / "runs" / "r5" / "make_grid" / "out.grid.json").read_text())
    assert stored == [{"lr": 0.5}, {"lr": 0.1}, {"lr": 0.05}]


def test_exec_merge_without_the_skipped_branch_parameters(tmp_path: Path) -> None:
    # Argo passes a step only its own and its conditions' parameters: publish gets no `mode`,
    # and full_scoring, skipped by the engine, left no result: the optional input is None.
    quick = json.dumps({"mode": "quick"})
    assert run_exec(tmp_path, ETL, "--step", "extract", "--step", "clean", "--run-id", "r6", "--params", quick)[1] == 0
    assert run_exec(tmp_path, ETL, "--step", "quick_scoring", "--run-id", "r6", "--params", quick)[1] == 0
    published, code, _ = run_exec(tmp_path, ETL, "--step", "publish", "--run-id", "r6")
    assert code == 0, published
    path = json.loads((tmp_path / "runs" / "r6" / "publish" / "out.published.json").read_text())
    assert len(json.loads(Path(path).read_text())) == 10
    # verify fails with max_rows=1 (retry=1: two attempts with --retry), then --rollback undoes publish
    failed, code, _ = run_exec(tmp_path, ETL, "--step", "verify", "--run-id", "r6", "-p", "max_rows=1", "--retry")
    assert code == 1 and failed["attempt"] == 2 and "more than 1" in str(failed["error"])
    undone, code, _ = run_exec(tmp_path, ETL, "--rollback", "--run-id", "r6")
    assert code == 0 and undone["rollbacks"] == [
        {"step": "publish", "item": None, "status": "succeeded", "error": None}
    ]
    assert not Path(path).exists()


def test_exec_required_parameter_only_where_needed(tmp_path: Path) -> None:
    flow = str(Path(__file__).resolve().parent / "flows" / "run" / "required.py")
    msg, code, err = run_exec(tmp_path, flow, "--step", "use", "--run-id", "r7")
    assert code == 2 and "missing required parameter 'name'" in err
    msg, code, _ = run_exec(tmp_path, flow, "--step", "use", "--run-id", "r7", "-p", "name=ab")
    assert code == 0 and msg["status"] == "succeeded"


def test_exec_of_a_class_step_reports_where_the_flow_went(tmp_path: Path) -> None:
    flow = str(ROOT / "golden" / "model_selection.py")
    order = ["start", "linear", "tree", "pick", "sweep"]
    for step in order:
        message, code, stderr = run_exec(tmp_path, flow, "--step", step, "--run-id", "r1")
        assert code == 0 and message["status"] == "succeeded", stderr
    assert message["next"] == ["tune"] and message["foreach"] == {}
    for item in range(3):
        tuned, code, stderr = run_exec(tmp_path, flow, "--step", "tune", "--run-id", "r1", "--item", str(item))
        assert code == 0, stderr
    for step in ["collect", "decide"]:
        message, code, stderr = run_exec(tmp_path, flow, "--step", step, "--run-id", "r1")
        assert code == 0, stderr
    assert message["switch"] == "report" and message["next"] == ["report"]
    skipped, code, _ = run_exec(tmp_path, flow, "--step", "publish", "--run-id", "r1")
    assert code == 0 and skipped["status"] == "skipped" and "next" not in skipped


def test_exec_refuses_a_run_id_that_names_no_folder(tmp_path: Path) -> None:
    for run_id, why in (("", "must not be empty"), ("..", "is not a run id"), ("a\nb", "is not a run id")):
        _, code, err = run_exec(tmp_path, IRIS, "--step", "load", "--run-id", run_id)
        assert code == 2 and why in err, (run_id, err)
    _, code, err = run_exec(tmp_path, IRIS, "--step", "load", "--run-id", "r" * 201)
    assert code == 2 and "at most 200 characters" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing written
    _, code, _ = run_exec(tmp_path, IRIS, "--step", "load", "--run-id", "r" * 200)
    assert code == 0


SLOW = """
import time
from stepc import step


@step(outputs=["x"], timeout=1, retry=1)
def slow(journal: str = ""):
    try:
        time.sleep(60)
    finally:
        with open(journal, "a") as f:
            f.write("cleaned up\\n")
    return 1
"""


def test_exec_stops_an_attempt_at_its_timeout_and_its_finally_runs(tmp_path: Path) -> None:
    """Engines that run `stepc exec` without a limit of their own still get the step's: each
    attempt (retries included) is stopped at the deadline, SIGTERM first, so cleanup runs."""
    import time

    flow = tmp_path / "slow.py"
    flow.write_text(SLOW)
    journal = tmp_path / "journal.txt"
    started = time.monotonic()
    control, code, _ = run_exec(
        tmp_path / "store", str(flow), "--step", "slow", "--run-id", "t1", "--retry", "-p", f"journal={journal}"
    )
    elapsed = time.monotonic() - started
    assert code == 1
    assert control["status"] == "failed" and control["attempt"] == 2
    assert control["error"] == "timed out after 1s (killed)"
    assert journal.read_text().splitlines() == ["cleaned up", "cleaned up"]  # both attempts' finally ran
    assert elapsed < 20  # two one-second attempts, not two sleeps of 60 s
    status = json.loads((tmp_path / "store" / "runs" / "t1" / "slow" / "status.1.json").read_text())
    assert status["status"] == "failed" and "timed out" in status["error"]
