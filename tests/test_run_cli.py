"""The command line: exit codes, parameter errors, plain output and the store commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOWS = Path(__file__).resolve().parent / "flows" / "run"
STEPC = [sys.executable, "-m", "stepc"]


def stepc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STEPC, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_bad_param_value_is_a_usage_error(tmp_path: Path) -> None:
    r = stepc("run", str(ROOT / "golden" / "iris_training.py"), "--store", str(tmp_path), "-p", "epochs=ten")
    assert r.returncode == 2
    assert r.stderr == "error: parameter 'epochs' expects an int, got 'ten'\n"
    assert r.stdout == "" and not (tmp_path / "runs").exists()


def test_unknown_and_malformed_params(tmp_path: Path) -> None:
    r = stepc("run", str(ROOT / "golden" / "iris_training.py"), "--store", str(tmp_path), "-p", "epoch=3")
    assert r.returncode == 2 and "unknown parameter 'epoch' (did you mean 'epochs'?)" in r.stderr
    r = stepc("run", str(ROOT / "golden" / "iris_training.py"), "--store", str(tmp_path), "-p", "epochs")
    assert r.returncode == 2 and "expected name=value" in r.stderr
    assert "Traceback" not in r.stderr
    r = stepc(
        "run", str(ROOT / "golden" / "iris_training.py"), "--store", str(tmp_path), "-p", "epochs=3", "-p", "epochs=4"
    )
    assert r.returncode == 2 and r.stderr == "error: parameter 'epochs' is given twice (-p epochs=3 and -p epochs=4)\n"
    assert not (tmp_path / "runs").exists()


def test_missing_required_param(tmp_path: Path) -> None:
    r = stepc("run", str(FLOWS / "required.py"), "--store", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr == "error: missing required parameter 'name' (str): pass -p name=VALUE\n"
    ok = stepc("run", str(FLOWS / "required.py"), "--store", str(tmp_path), "-p", "name=ab", "-p", "times=3")
    assert ok.returncode == 0, ok.stderr
    out = stepc("artifact", "last", "use", "out", "--store", str(tmp_path))
    assert json.loads(out.stdout) == "ababab"


def test_plain_output_and_failure_exit_code(tmp_path: Path) -> None:
    r = stepc("run", str(FLOWS / "failures.py"), "--pipeline", "boom", "--store", str(tmp_path))
    assert r.returncode == 1
    assert "boom: failed" in r.stdout and "\x1b[" not in r.stdout  # not a terminal: plain lines
    assert "ValueError: boom" in r.stdout
    logs = stepc("logs", "last", "boom", "--store", str(tmp_path))
    assert "Traceback" in logs.stdout and "about to raise" in logs.stdout


def test_store_commands(tmp_path: Path) -> None:
    ok = stepc("run", str(FLOWS / "semantics.py"), "--store", str(tmp_path), "-q", "-p", "n=2")
    assert ok.returncode == 0 and ok.stdout == ""
    runs = stepc("runs", "--store", str(tmp_path))
    assert "semantics" in runs.stdout and "succeeded" in runs.stdout
    show = stepc("show", "last", "--store", str(tmp_path))
    assert "square" in show.stdout and "skipped" in show.stdout
    listing = stepc("artifacts", "last", "square", "--store", str(tmp_path))
    assert "squared" in listing.stdout and "json" in listing.stdout
    item = stepc("artifact", "last", "square", "squared", "--item", "1", "--store", str(tmp_path))
    assert item.stdout.strip() == "1"
    target = tmp_path / "total.json"
    saved = stepc("artifact", "last", "total", "total", "-o", str(target), "--store", str(tmp_path))
    assert saved.returncode == 0 and json.loads(target.read_text()) == {"items": [1, 2], "sum": 3}
    log = stepc("logs", "last", "square", "--item", "1", "--store", str(tmp_path))
    assert log.stdout == "squaring 1\n"
    missing = stepc("logs", "last", "square", "--store", str(tmp_path))
    assert missing.returncode == 1 and "--item" in missing.stderr


def test_default_store_is_in_the_project(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "flows").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    flow = project / "flows" / "required.py"
    flow.write_text((FLOWS / "required.py").read_text())
    r = stepc("run", str(flow), "-q", "-p", "name=z", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (project / ".stepc" / "stepc.db").is_file()
    assert stepc("runs", cwd=project / "flows").stdout.count("required") == 1


def test_two_runs_at_once_in_one_store(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [*STEPC, "run", str(FLOWS / "semantics.py"), "--store", str(tmp_path), "-q", "-p", f"n={n}", "-j", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (3, 5)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2
    totals = []
    for run in runs:
        out = stepc("artifact", run.name, "total", "total", "--store", str(tmp_path))
        totals.append(json.loads(out.stdout)["sum"])
    assert sorted(totals) == [sum(k * k + 1 for k in range(3)), sum(k * k + 1 for k in range(5))]
    show = json.loads(stepc("show", runs[0].name, "--store", str(tmp_path), "--json").stdout)
    assert show["run"]["status"] == "succeeded" and len(show["steps"]) == 11


def test_without_a_project_run_and_runs_from_one_directory_share_the_store(tmp_path: Path) -> None:
    # no pyproject.toml anywhere above: the store is the current directory's, not the flow's
    (tmp_path / "flows").mkdir()
    flow = tmp_path / "flows" / "required.py"
    flow.write_text((FLOWS / "required.py").read_text())
    r = stepc("run", "flows/required.py", "-q", "-p", "name=z", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / ".stepc" / "stepc.db").is_file() and not (tmp_path / "flows" / ".stepc").exists()
    listed = stepc("runs", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.count("required") == 1
    shown = stepc("show", "latest", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    # a command that finds nothing says where it looked
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    nothing = stepc("runs", cwd=empty)
    assert nothing.returncode == 1 and str(empty / ".stepc") in nothing.stderr
    missing = stepc("show", "no-such-run", cwd=tmp_path)
    assert missing.returncode == 1 and str(tmp_path / ".stepc") in missing.stderr
