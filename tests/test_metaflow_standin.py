"""A Metaflow flow runs where Metaflow is not installed (engine images hold stepc only): the
stand-in `metaflow` module supplies stepc's FlowSpec, step and decorators."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
try:
    current.retry_count
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
    assert "metaflow.current.retry_count: Metaflow is not installed here" in ran.stdout
    assert "metaflow.S3(...)(...): Metaflow is not installed here" in ran.stdout
    assert "metaflow.Flow.latest_run: Metaflow is not installed here" in ran.stdout


def test_a_metaflow_flow_runs_without_metaflow(tmp_path: Path) -> None:
    flow = str(GOLDEN / "model_selection.py")
    script = (
        "import json, sys, stepc\n"
        "r = stepc.run(sys.argv[1], params={'threshold': 0.1}, store=sys.argv[2], workers=2)\n"
        "assert r.ok, r.error\n"
        "print(json.dumps(r['end'].outputs))\n"
    )
    ran = subprocess.run(
        [str(airflow_env.ensure()), "-c", script, flow, str(tmp_path / "without")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    # The same run where Metaflow is installed (this environment) ends the same way.
    with_metaflow = stepc.run(flow, params={"threshold": 0.1}, store=tmp_path / "with", workers=2)
    assert with_metaflow.ok, with_metaflow.error
    assert json.loads(ran.stdout.splitlines()[-1]) == with_metaflow["end"].outputs
