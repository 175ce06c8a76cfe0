"""Typed per-target settings: one declared table per backend; an unknown or mistyped
``[tool.stepc.<target>]`` key is T103 at its line in the config file, naming the key and the
valid ones, and nothing is written; a valid one reaches the output."""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import pytest

from stepc.targets import load_target
from tests.helpers import REPO, stepc

FEATURES_DIR = REPO / "tests" / "flows" / "features"
BUILT_IN = ["argo", "airflow", "gha", "valohai"]


def project(tmp_path: Path, config: str, flow: str = "timeout.py", name: str = "pyproject.toml") -> Path:
    shutil.copy(FEATURES_DIR / flow, tmp_path / "flow.py")
    (tmp_path / name).write_text(config, encoding="utf-8")
    return tmp_path


def test_an_unknown_key_names_itself_the_file_its_line_and_the_valid_keys(tmp_path: Path) -> None:
    root = project(tmp_path, '[project]\nname = "x"\n\n[tool.stepc.argo]\nnamespace = "ml"\nkidn = "cron"\n')
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=root)
    assert result.returncode == 1
    valid = ", ".join(sorted(load_target("argo").SETTINGS))
    assert (
        "pyproject.toml:6:1: error[T103]: unknown setting 'kidn' in [tool.stepc.argo] (did you mean 'kind'?); "
        f'the argo settings are: {valid}\n   6 | kidn = "cron"\n     | ^~~~\n'
    ) in result.stderr
    assert "namespace" not in result.stderr.split("settings are")[0]  # a valid key is not reported
    assert not (root / "out").exists()


def test_a_key_far_from_every_valid_one_gets_no_guess(tmp_path: Path) -> None:
    root = project(tmp_path, "[tool.stepc.valohai]\ncolour = 'blue'\n")
    result = stepc("compile", "flow.py", "--target", "valohai", "-o", "out", cwd=root)
    assert result.returncode == 1 and "did you mean" not in result.stderr
    assert (
        "pyproject.toml:2:1: error[T103]: unknown setting 'colour' in [tool.stepc.valohai]; the valohai"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("target", "line", "message"),
    [
        ("gha", 'setup_minutes = "ten"', "setting 'setup_minutes' in [tool.stepc.gha] is a whole number, not 'ten'"),
        ("gha", "container = 1", "setting 'container' in [tool.stepc.gha] is true or false, not 1"),
        ("gha", "install = [1, 2]", "is a string or a list of strings, not [1, 2]"),
        ("airflow", 'operator = "celery"', 'is one of "bash", "kubernetes", not \'celery\''),
        ("airflow", 'start_date = "May 1st"', "is a date like 2024-01-01, not 'May 1st'"),
        ("argo", "store = 3", "setting 'store' in [tool.stepc.argo] is a string, not 3"),
        ("valohai", "environments = {gpu = 1}", "is a list of tables, not {'gpu': 1}"),
    ],
)
def test_a_mistyped_value_is_t103_at_its_line(tmp_path: Path, target: str, line: str, message: str) -> None:
    root = project(tmp_path, f"[tool.stepc]\nimage = 'python:3.12'\n\n[tool.stepc.{target}]\n{line}\n")
    result = stepc("compile", "flow.py", "--target", target, "-o", "out", cwd=root)
    assert result.returncode == 1
    assert re.search(r"^pyproject\.toml:5:1: error\[T103\]: ", result.stderr, re.M), result.stderr
    assert message in result.stderr
    assert not (root / "out").exists()


def test_a_table_that_is_not_a_table_is_t103(tmp_path: Path) -> None:
    root = project(tmp_path, "[tool.stepc]\nargo = 3\n")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=root)
    assert result.returncode == 1 and "error[T103]: [tool.stepc.argo] is a table of settings, not 3" in result.stderr


def test_valid_settings_reach_the_output(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "[tool.stepc.gha]\nsetup_minutes = 5\n\n[tool.stepc.airflow]\nstart_date = 2024-05-01\n",  # a TOML date
    )
    result = stepc("compile", "flow.py", "--target", "all", "-o", "out", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "T103" not in result.stderr
    workflow = (root / "out" / ".github" / "workflows" / "flow.yml").read_text(encoding="utf-8")
    assert "timeout-minutes: 15" in workflow  # 10 minutes of timeout, 5 of setup
    assert "datetime(2024, 5, 1" in (root / "out" / "flow_dag.py").read_text(encoding="utf-8")


def test_a_stepc_toml_names_its_own_table(tmp_path: Path) -> None:
    root = project(tmp_path, "[gha]\nrun_on = 'x'\n", name="stepc.toml")
    result = stepc("compile", "flow.py", "--target", "gha", "-o", "-", cwd=root)
    assert result.returncode == 1
    assert "stepc.toml:2:1: error[T103]: unknown setting 'run_on' in [gha] (did you mean 'runs_on'?)" in result.stderr


def test_the_same_problem_is_said_once_for_several_flows(tmp_path: Path) -> None:
    root = project(tmp_path, "[tool.stepc.argo]\nkidn = 'cron'\n")
    shutil.copy(FEATURES_DIR / "after.py", root / "other.py")
    result = stepc("compile", "flow.py", "other.py", "--target", "argo", "-o", "out", cwd=root)
    assert result.returncode == 1 and result.stderr.count("error[T103]") == 1


@pytest.mark.parametrize("target", BUILT_IN)
def test_every_setting_a_backend_reads_is_declared(target: str) -> None:
    backend = load_target(target)
    source = Path(inspect.getsourcefile(backend) or "").read_text(encoding="utf-8")
    read = set(re.findall(r"""\bsetting\(\s*["'](\w+)["']""", source))
    if "pod_resources" in source:
        kubernetes = (REPO / "backends" / "kubernetes.py").read_text(encoding="utf-8")
        read |= set(re.findall(r"""\bsetting\(\s*["'](\w+)["']""", kubernetes))
    assert read and read <= set(backend.SETTINGS), read - set(backend.SETTINGS)
    for key, setting in backend.SETTINGS.items():
        assert setting.default is None or setting.problem(setting.default) is None, key
