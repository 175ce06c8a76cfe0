"""A Metaflow flow runs where Metaflow is not installed (engine images hold stepc only): the
stand-in `metaflow` module supplies stepc's FlowSpec, step and decorators."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import stepc
from tests import airflow_env
from tests.helpers import GOLDEN

# Airflow's environment holds stepc and Airflow, and not Metaflow: the place engines run steps.
SCRIPT = """
import sys
from stepc.runtime import metaflow_standin
metaflow_standin.install()
import metaflow
from metaflow import FlowSpec, card, current, step

assert metaflow.__stepc_standin__ and FlowSpec.__module__ == "stepc"

@card(type="blank")
@card
def f():
    return 1

assert f() == 1
# Outside a step, `current` says no flow runs; a field Metaflow's has and stepc's lacks is named.
print("running:", current.is_running_flow, current.retry_count)
try:
    current.graph
except AttributeError as exc:
    print(exc)
# A name it lacks, used as something other than a decorator, says which name (no lambda).
for use in (lambda: metaflow.S3(run=None)("bucket"), lambda: metaflow.Flow("x").latest_run):
    try:
        use()
    except (AttributeError, TypeError) as exc:
        print(exc)
"""


def test_the_stand_in_is_only_used_where_metaflow_is_missing() -> None:
    python = airflow_env.ensure()
    missing = subprocess.run([str(python), "-c", "import metaflow"], capture_output=True, text=True)
    assert missing.returncode == 1 and "No module named 'metaflow'" in missing.stderr
    ran = subprocess.run([str(python), "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "running: False 0" in ran.stdout
    assert "metaflow.current.graph is not provided under stepc" in ran.stdout
    assert "metaflow.S3(...)(...): Metaflow is not installed here" in ran.stdout
    assert "metaflow.Flow.latest_run: Metaflow is not installed here" in ran.stdout


ORACLE = Path(__file__).resolve().parent / "flows" / "metaflow"
WITHOUT_METAFLOW = [
    (GOLDEN / "model_selection.py", {"threshold": 0.1}, "end"),
    # metaflow.current, IncludeFile, renamed and JSONType parameters, @step(end=True)
    (ORACLE / "current_fields.py", {"marker": "MARKER"}, "end"),
    (
        ORACLE / "include_file.py",
        {"data": str(ORACLE / "include_data.csv"), "raw": str(ORACLE / "include_data.csv")},
        "end",
    ),
    (ORACLE / "parameters.py", {"creature": "owl"}, "end"),
    (ORACLE / "start_end.py", {}, "finish"),
    (ORACLE / "configs.py", {}, "end"),
]


@pytest.mark.parametrize(("flow", "params", "last"), WITHOUT_METAFLOW, ids=lambda v: getattr(v, "stem", None))
def test_a_metaflow_flow_runs_without_metaflow(tmp_path: Path, flow: Path, params: dict[str, Any], last: str) -> None:
    script = (
        "import json, sys, stepc\n"
        "r = stepc.run(sys.argv[1], params=json.loads(sys.argv[3]), store=sys.argv[2], workers=2)\n"
        "assert r.ok, r.error\n"
        f"print(json.dumps(r[{last!r}].outputs, default=repr))\n"
    )
    given = {k: str(tmp_path / "without-marker") if v == "MARKER" else v for k, v in params.items()}
    ran = subprocess.run(
        [str(airflow_env.ensure()), "-c", script, str(flow), str(tmp_path / "without"), json.dumps(given)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    # The same run where Metaflow is installed (this environment) ends the same way.
    given = {k: str(tmp_path / "with-marker") if v == "MARKER" else v for k, v in params.items()}
    with_metaflow = stepc.run(flow, params=given, store=tmp_path / "with", workers=2)
    assert with_metaflow.ok, with_metaflow.error
    outputs = json.loads(json.dumps(with_metaflow[last].outputs, default=repr))
    assert json.loads(ran.stdout.splitlines()[-1]) == outputs
