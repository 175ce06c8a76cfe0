"""Step names against the store layout and the engines: a name spelt like a store file, and names
of any length Python accepts, check, run (real ``stepc run``) and compile to every target, whose
output passes the validators the target tests use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from stepc.backends.airflow_lint import lint_dag
from stepc.backends.argo_lint import lint_documents

from stepc.runtime.layout import SEGMENT_BYTES
from stepc.runtime.store import Store
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import stepc
from tests.test_airflow import airflow_python, dagbag  # noqa: F401 (a fixture)
from tests.test_gha import validate as validate_gha
from tests.test_valohai import check_valohai

LONG = "s" * 100
NAMED = "n" * 100  # through @step(name=...)
LONGER = "t" * 300  # a folder name this long would pass NAME_MAX: the store cuts it
OUTPUT = "o" * 260
GROUP = "g" * 59


def flow_text(first: str, group: str = "") -> str:
    grouped = f", group={group!r}" if group else ""
    return f"""\
from stepc import pipeline, step


@step(name={first!r}, outputs=[{OUTPUT!r}]{grouped})
def first():
    return [1, 2, 3]


@step(inputs=[{OUTPUT!r}], outputs=["xs"]{grouped})
def again({OUTPUT}):
    return {OUTPUT}


@step(inputs=["xs"], foreach="xs", outputs=["sq"])
def {LONGER}(xs):
    return xs * xs


@step(inputs=["sq"])
def {LONG}(sq):
    print("total", sum(sq))


pipeline("p", steps=[first, again, {LONGER}, {LONG}])
"""


def run_id(result_text: str) -> str:
    found = re.search(r"run (\S+) of p started", result_text)
    assert found, result_text
    return found.group(1)


@pytest.mark.parametrize(("name", "message"), [("", "cannot be empty"), (".", "must start"), ("..", "must start")])
def test_names_that_are_no_folder_are_refused_at_their_place(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "flow.py").write_text(flow_text(name), encoding="utf-8")
    result = stepc("check", "flow.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "flow.py:4:12: error[S103]: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_step_named_like_the_run_record_runs_beside_it(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(flow_text("run.json"), encoding="utf-8")
    assert stepc("check", "flow.py", cwd=tmp_path).returncode == 0
    ran = stepc("run", "flow.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = run_id(ran.stdout + ran.stderr)
    store = Store(tmp_path / ".stepc")
    assert store.read_run(run) is not None and store.read_run(run)["pipeline"] == "p"  # type: ignore[index]
    assert store.step_dir(run, "run.json").is_dir() and store.step_dir(run, "run.json").name == "run%2Ejson"
    shown = stepc("artifact", run, "run.json", OUTPUT, cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.split() == ["[", "1,", "2,", "3", "]"], shown.stdout + shown.stderr


def test_names_of_any_length_check_and_run_and_the_store_copes(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(flow_text(NAMED, GROUP), encoding="utf-8")
    checked = stepc("check", "flow.py", cwd=tmp_path)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    ran = stepc("run", "flow.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "total 14" in ran.stdout + ran.stderr
    run = run_id(ran.stdout + ran.stderr)
    store = Store(tmp_path / ".stepc")
    assert store.step_dir(run, LONG).name == LONG  # short enough to stay readable
    assert store.step_dir(run, NAMED).is_dir() and [r.status for r in store.committed(run, LONG)] == ["succeeded"]
    cut = store.step_dir(run, LONGER).name
    assert len(cut) <= SEGMENT_BYTES and cut.startswith("t" * 100) and store.step_dir(run, LONGER).is_dir()
    assert [r.item for r in store.committed(run, LONGER)] == [(0,), (1,), (2,)]
    item = stepc("artifact", run, LONGER, "sq", "--item", "2", cwd=tmp_path)
    assert item.returncode == 0 and item.stdout.strip() == "9", item.stdout + item.stderr
    # The database is an index of the files: rebuilt, it still knows the cut folder's step.
    assert stepc("store", "repair", cwd=tmp_path).returncode == 0
    shown = stepc("show", run, cwd=tmp_path)
    assert shown.returncode == 0 and "repaired" in shown.stdout
    assert stepc("artifact", run, LONGER, "sq", "--item", "1", cwd=tmp_path).stdout.strip() == "4"


def compiled(tmp_path: Path, target: str) -> Path:
    result = stepc("compile", "flow.py", "--target", target, "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = (p for p in (tmp_path / "out").rglob("*") if p.is_file())
    return path


@pytest.fixture
def long_flow(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(flow_text(NAMED, GROUP), encoding="utf-8")
    return tmp_path


def test_long_names_compile_for_argo(long_flow: Path) -> None:
    text = compiled(long_flow, "argo").read_text(encoding="utf-8")
    for document in (d for d in yaml.safe_load_all(text) if d is not None):
        for version in VERSIONS:
            assert validation_errors(document, version) == []
    assert lint_documents(text) == []


def test_long_names_compile_for_github_actions(long_flow: Path) -> None:
    validate_gha(compiled(long_flow, "gha"))


def test_long_names_compile_for_valohai_and_a_59_character_group_parses(long_flow: Path) -> None:
    data = check_valohai(compiled(long_flow, "valohai").read_text(encoding="utf-8"))
    steps = [i["step"] for i in data if "step" in i]
    assert any(s["name"].startswith(GROUP[:40]) for s in steps)
    assert all(len(i["name"]) <= 64 for s in steps for i in s.get("inputs", []))


def test_long_names_compile_for_airflow(long_flow: Path, airflow_python: Path) -> None:  # noqa: F811
    path = compiled(long_flow, "airflow")
    assert lint_dag(path.read_text(encoding="utf-8"), {"airflow"}) == []
    loaded = dagbag(airflow_python, long_flow, path)
    assert loaded[str(path)]["errors"] == {}
    (dag,) = loaded[str(path)]["dags"].values()
    assert len(dag["tasks"]) >= 3


def test_a_run_id_too_long_for_a_folder_once_quoted_still_runs(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(flow_text("first"), encoding="utf-8")
    run = "é" * 150  # 150 characters, 900 once percent-quoted
    for step in ("first", "again"):
        done = stepc("exec", "flow.py", "--step", step, "--run-id", run, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    store = Store(tmp_path / ".stepc")
    assert len(store.run_dir(run).name) <= SEGMENT_BYTES and store.run_dir(run).is_dir()
    assert stepc("artifact", run, "again", "xs", cwd=tmp_path).stdout.split() == ["[", "1,", "2,", "3", "]"]
