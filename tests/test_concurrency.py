"""`[tool.stepc] concurrency`: what a run started while another runs does, the same on every
target that can say it: Argo's CronWorkflow `concurrencyPolicy`, Airflow's `max_active_runs`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import stepc

FLOW = (
    "from stepc import pipeline, step\n\n@step\ndef a():\n    pass\n\npipeline('p', steps=[a], schedule='0 1 * * *')\n"
)


def compiled(tmp_path: Path, target: str, config: str) -> tuple[int, str, str]:
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(f'[tool.stepc]\nimage = "ghcr.io/acme/p:1"\n{config}', encoding="utf-8")
    result = stepc("compile", "flow.py", "--target", target, "-o", "-", cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("setting", "policy", "runs"),
    [
        ("", "Forbid", "max_active_runs=1,"),
        ('concurrency = "allow"\n', "Allow", None),
        ('concurrency = "forbid"\n', "Forbid", "max_active_runs=1,"),
        ('concurrency = "replace"\n', "Replace", "max_active_runs=1,"),
    ],  # fmt: skip
)
def test_each_policy_on_argo_and_airflow(tmp_path: Path, setting: str, policy: str, runs: str | None) -> None:
    code, out, err = compiled(tmp_path, "argo", setting)
    assert code == 0, err
    cron = next(d for d in yaml.safe_load_all(out.split("\n", 2)[2]) if d["kind"] == "CronWorkflow")
    assert cron["spec"]["concurrencyPolicy"] == policy
    code, out, err = compiled(tmp_path, "airflow", setting)
    assert code == 0, err
    if runs is None:
        assert "max_active_runs" not in out  # Airflow's own limit
    else:
        assert f"    {runs}\n" in out
    assert ('has concurrency = "replace"' in err) == (policy == "Replace")


@pytest.mark.parametrize("target", ["argo", "airflow"])
def test_another_value_is_t103_at_its_line(tmp_path: Path, target: str) -> None:
    code, out, err = compiled(tmp_path, target, "concurrency = 2\n")
    assert code == 1 and out == "" and "Traceback" not in err
    assert (
        'pyproject.toml:3:1: error[T103]: setting \'concurrency\' in [tool.stepc] is one of "allow", "forbid", ' in err
    )
