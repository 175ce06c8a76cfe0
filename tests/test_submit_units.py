"""`stepc submit` pieces that need no running Airflow: the DAG id of a generated file, import
errors as diagnostics, the dags folder setting, lazy imports, one-line errors for a dead URL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import airflow_client.client as af
import pytest

from stepc.config import Config
from stepc.submit import SubmitError
from stepc.submit.airflow import dags_folder
from stepc.submit.client import Airflow, Credentials
from stepc.submit.deploy import compile_dag, dag_id_of, import_error_diagnostic
from tests.helpers import GOLDEN, REPO
from tests.test_submit_server import free_port


def test_the_dag_id_is_read_from_the_generated_file() -> None:
    dag, diagnostics = compile_dag(str(GOLDEN / "features.py"), None, Config(REPO, {}))
    assert dag is not None and dag.dag_id == "feature-tour" and dag.file_name == "feature-tour_dag.py"
    assert dag_id_of(dag.content) == "feature-tour"
    assert all(d.severity == "warning" for d in diagnostics)
    with pytest.raises(SubmitError, match="no dag_id"):
        dag_id_of("x = 1\n")


def test_an_import_error_points_at_the_line_the_trace_names(tmp_path: Path) -> None:
    path = tmp_path / "dags" / "p_dag.py"
    content = "import os\n\n    start_date=datetime(2024, 2, 30),\n"
    trace = (
        "Traceback (most recent call last):\n"
        f'  File "/elsewhere/lib.py", line 9, in f\n  File "{path}", line 3, in <module>\n'
        "ValueError: day is out of range for month\n"
    )
    error = af.ImportErrorResponse(
        filename=str(path), import_error_id=1, stack_trace=trace, timestamp=datetime.now(UTC)
    )
    found = import_error_diagnostic(error, path, content)
    assert (found.file, found.line, found.col, found.code) == (str(path), 3, 5, "T202")
    assert found.message == "Airflow cannot import the DAG file: ValueError: day is out of range for month"
    assert "start_date=datetime(2024, 2, 30)" in found.render_text()


def test_the_dags_folder_comes_from_the_option_or_the_project(tmp_path: Path) -> None:
    config = Config(tmp_path, {"airflow": {"dags_folder": "airflow/dags"}})
    assert dags_folder(None, config) == tmp_path / "airflow" / "dags"
    assert dags_folder("/srv/dags", config) == Path("/srv/dags")
    with pytest.raises(SubmitError, match="--dags-folder"):
        dags_folder(None, Config(tmp_path, {}))


def test_a_dead_url_is_one_line_without_the_secret() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SubmitError) as raised:
        Airflow(url, request_timeout=5).login(Credentials("admin", "hunter2-secret"))
    assert str(raised.value) == f"cannot reach Airflow at {url} (connection refused) to log in"
    client = Airflow(url, request_timeout=5)
    client.login(Credentials(token="tok-secret"))
    with pytest.raises(SubmitError) as raised:
        client.dag("x")
    assert "connection refused" in str(raised.value) and "tok-secret" not in str(raised.value)


def test_the_cli_loads_the_airflow_client_only_when_submitting() -> None:
    script = (
        "import sys\nfrom stepc.cli import cli\n"
        "cli.get_command(None, 'submit'); cli.get_command(None, 'status'); cli.get_command(None, 'check')\n"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_client')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_names_the_environment_variables() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stepc", "submit", "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0
    for name in ("STEPC_AIRFLOW_USER", "STEPC_AIRFLOW_PASSWORD", "STEPC_AIRFLOW_TOKEN", "--no-wait", "--dags-folder"):
        assert name in result.stdout
