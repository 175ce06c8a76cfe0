"""``kill -9`` of the runner mid-run, then ``stepc resume``: nothing finished runs again and no
artifact is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOW = str(Path(__file__).resolve().parent / "flows" / "run" / "slow_items.py")
STEPC = [sys.executable, "-m", "stepc"]


def _committed(store: Path, run_id: str) -> dict[str, dict[str, object]]:
    found = {}
    for path in (store / "runs" / run_id).rglob("result.json"):
        found[str(path.relative_to(store))] = json.loads(path.read_text())
    return found


def test_kill_runner_then_resume(tmp_path: Path) -> None:
    store = tmp_path / "store"
    journal = tmp_path / "journal.txt"
    runner = subprocess.Popen(
        [*STEPC, "run", FLOW, "--store", str(store), "-j", "2", "-q", "-p", f"journal={journal}", "-p", "pause=0.4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count("end ") >= 3:
            break
        time.sleep(0.02)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    time.sleep(0.3)  # children die with their runner (PR_SET_PDEATHSIG); let that settle
    (run_id,) = os.listdir(store / "runs")
    listing = subprocess.run([*STEPC, "runs", "--store", str(store)], capture_output=True, text=True)
    assert "interrupted" in listing.stdout  # the runner died without a word
    before = _committed(store, run_id)
    done_items = {int(p.split("/")[-2]) for p in before if "/items/" in p}
    assert 3 <= len(done_items) < 8, before.keys()

    resumed = subprocess.run(
        [*STEPC, "resume", run_id, "--store", str(store), "-q"], capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr

    after = _committed(store, run_id)
    for path, result in before.items():
        assert after[path] == result  # not run again: the very same result
    lines = journal.read_text().splitlines()
    for k in done_items:
        assert lines.count(f"end {k}") == 1 and sum(1 for ln in lines if ln.startswith(f"start {k} ")) == 1
    total = subprocess.run(
        [*STEPC, "artifact", run_id, "join", "total", "--store", str(store)], capture_output=True, text=True
    )
    assert total.stdout.strip() == str(sum(2 * k for k in range(8)))
    for k in range(8):  # every item's artifact is there
        assert (store / "runs" / run_id / "work" / "items" / str(k) / "out.doubled.json").is_file()
    show = subprocess.run([*STEPC, "show", run_id, "--store", str(store), "--json"], capture_output=True, text=True)
    doc = json.loads(show.stdout)
    assert doc["run"]["status"] == "succeeded"
    assert {s["step"]: s["status"] for s in doc["steps"]} == {
        "start": "succeeded",
        "work": "succeeded",
        "join": "succeeded",
    }


FIXABLE = """
import os

from stepc import pipeline, step


def _note(journal, text):
    with open(journal, "a") as f:
        f.write(text + "\\n")


def unpublish(published):
    _note(published, "unpublish")


@step(outputs=["data"])
def prep(journal: str = ""):
    _note(journal, "prep")
    return journal


@step(inputs=["data"], outputs=["published"], rollback=unpublish)
def publish(data):
    _note(data, "publish")
    return data


@step(inputs=["published"], outputs=["checked"])
def check(published, marker: str = ""):
    if not os.path.exists(marker):
        raise RuntimeError("not fixed yet")
    _note(published, "check")
    return True


pipeline("fixable", steps=[prep, publish, check])
"""


def test_resume_after_a_fix_reruns_what_failed_or_was_rolled_back(tmp_path: Path) -> None:
    flow = tmp_path / "fixable.py"
    flow.write_text(FIXABLE)
    journal, marker, store = tmp_path / "journal.txt", tmp_path / "fixed", tmp_path / "store"
    first = subprocess.run(
        [*STEPC, "run", str(flow), "--store", str(store), "-q", "-p", f"journal={journal}", "-p", f"marker={marker}"],
        capture_output=True,
        text=True,
    )
    assert first.returncode == 1 and "not fixed yet" in first.stderr
    assert journal.read_text().split() == ["prep", "publish", "unpublish"]
    marker.write_text("")
    (run_id,) = os.listdir(store / "runs")
    resumed = subprocess.run([*STEPC, "resume", run_id, "--store", str(store), "-q"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    # prep is not run again; publish was undone by its rollback, so it runs again
    assert journal.read_text().split() == ["prep", "publish", "unpublish", "publish", "check"]
    again = subprocess.run([*STEPC, "resume", run_id, "--store", str(store), "-q"], capture_output=True, text=True)
    assert again.returncode == 1 and "already succeeded" in again.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_records_the_run_interrupted_and_resumable(tmp_path: Path, sig: int, code: int) -> None:
    store, journal = tmp_path / "store", tmp_path / "journal.txt"
    runner = subprocess.Popen(
        [*STEPC, "run", FLOW, "--store", str(store), "-q", "-p", f"journal={journal}", "-p", "pause=5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not (journal.exists() and journal.read_text().count("start ") >= 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.send_signal(sig)
    _, err = runner.communicate(timeout=10)
    assert runner.returncode == code and "interrupted" in err, err
    (run_id,) = os.listdir(store / "runs")
    show = subprocess.run([*STEPC, "show", run_id, "--store", str(store), "--json"], capture_output=True, text=True)
    assert json.loads(show.stdout)["run"]["status"] == "interrupted"
    resumed = subprocess.run(
        [*STEPC, "resume", run_id, "--store", str(store), "-q"], capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr


FROM_FLOW = """
from stepc import pipeline, step


def _mark(journal, name):
    with open(journal, "a") as f:
        f.write(name + "\\n")


@step(outputs=["raw"])
def load(journal: str = ""):
    _mark(journal, "load")
    return 3


@step(inputs=["raw"], outputs=["model"])
def train(raw, journal: str = "", lr: float = 0.1):
    _mark(journal, "train")
    return raw * lr


@step(inputs=["model"], outputs=["report"])
def report(model, journal: str = ""):
    _mark(journal, "report")
    return f"model {model:.2f}"


pipeline("three", steps=[load, train, report])
"""


def _stepc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STEPC, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_resume_from_a_step_runs_it_and_everything_after_it_again(tmp_path: Path) -> None:
    flow = tmp_path / "three.py"
    flow.write_text(FROM_FLOW)
    journal = tmp_path / "journal.txt"
    store = str(tmp_path / "store")
    ran = _stepc("run", str(flow), "-q", "--store", store, "-p", f"journal={journal}", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = (tmp_path / "store" / "runs").iterdir()
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    journal.write_text("")
    # a succeeded run resumes from a step: that step and what follows run, the rest is kept
    again = _stepc("resume", run_id, "--from", "train", "-q", "--store", store, "-p", "lr=0.5", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert journal.read_text().split() == ["train", "report"]
    report = json.loads(_stepc("artifact", run_id, "report", "report", "--store", store, cwd=tmp_path).stdout)
    assert report == "model 1.50"  # the new value of lr reached train
    # a parameter a kept step reads cannot change: say which step and what to do
    clash = _stepc("resume", run_id, "--from", "report", "-q", "--store", store, "-p", "lr=0.9", cwd=tmp_path)
    assert clash.returncode == 2 and "read by step 'train'" in clash.stderr and "--from 'train'" in clash.stderr
    unknown = _stepc("resume", run_id, "--from", "trian", "--store", store, cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean 'train'" in unknown.stderr
    # without --from, a succeeded run has nothing to resume
    done = _stepc("resume", run_id, "--store", store, cwd=tmp_path)
    assert done.returncode == 1 and "already succeeded" in done.stderr
