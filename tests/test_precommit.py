"""The pre-commit hooks, run by the real `pre-commit` tool in a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import GOLDEN, REPO

PYPROJECT = """\
[project]
name = "demo"
version = "0"

[tool.stepc]
flows = ["flows/train.py"]
targets = ["argo"]
output = "deploy"
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # One hook environment for the module: pre-commit builds it once (stepc from this repo).
    home = tmp_path_factory.mktemp("pre-commit-home")
    return {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    root = tmp_path / "demo"
    (root / "flows").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    shutil.copy(GOLDEN / "iris_training.py", root / "flows" / "train.py")
    (root / "notes.py").write_text("print('not a flow')\n", encoding="utf-8")
    compiled = run([sys.executable, "-m", "stepc", "compile"], root, env)
    assert compiled.returncode == 0, compiled.stderr
    assert (root / "deploy" / "iris-training.argo.yaml").is_file()
    run(["git", "init", "-q"], root, env)
    return root


def try_repo(root: Path, hook: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    run(["git", "add", "-A"], root, env)
    return run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files"], root, env)


def test_a_clean_repository_passes_both_hooks(project: Path, env: dict[str, str]) -> None:
    for hook in ("stepc-check", "stepc-compile"):
        result = try_repo(project, hook, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Passed" in result.stdout


def test_a_broken_flow_fails_the_check_hook_with_the_diagnostic(project: Path, env: dict[str, str]) -> None:
    flow = project / "flows" / "train.py"
    flow.write_text(flow.read_text(encoding="utf-8").replace('inputs=["rows"]', 'inputs=["rowz"]'), encoding="utf-8")
    result = try_repo(project, "stepc-check", env)
    assert result.returncode == 1
    assert "flows/train.py:23:15: error[S104]" in result.stdout
    assert "Failed" in result.stdout


def test_a_stale_generated_file_fails_the_compile_hook_with_a_diff(project: Path, env: dict[str, str]) -> None:
    flow = project / "flows" / "train.py"
    flow.write_text(
        flow.read_text(encoding="utf-8").replace("n_rows: int = 300", "n_rows: int = 500"), encoding="utf-8"
    )
    result = try_repo(project, "stepc-compile", env)
    assert result.returncode == 1
    assert '-        value: "300"' in result.stdout and '+        value: "500"' in result.stdout
