"""Argo output fit for production: working directory, pod GC, TTL, security context, the
CronWorkflow's timezone and starting deadline, the pipeline's whole-run deadline, and a
backoff factor Argo cannot hold. Every document is checked by the strict schemas, the lint,
the argo-workflows SDK and Hera."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from stepc.backends.argo_lint import lint_documents

from stepc.ir_json import from_dict, json_schema
from tests.argo_models import hera_errors, sdk_errors
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import stepc
from tests.test_argo import COMPILED, compile_argo, documents

FLOW = """from stepc import pipeline, step


@step(outputs=["x"], retry={"times": 2, "delay": 3, "backoff": 2}, timeout=30)
def a():
    return 1


@step(inputs=["x"], rollback="undo")
def b(x):
    pass


def undo(**outputs):
    pass


pipeline("prod", steps=[a, b], schedule="0 4 * * 1"{extra})
"""


def project(tmp_path: Path, config: str = "", extra: str = "") -> Path:
    (tmp_path / "flow.py").write_text(FLOW.replace("{extra}", extra), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n' + config, encoding="utf-8")
    return tmp_path


def checked(text: str) -> list[dict[str, Any]]:
    """The documents of ``text``, after every validator passed them."""
    assert lint_documents(text) == []
    docs = documents(text)
    for document in docs:
        for version in VERSIONS:
            assert validation_errors(document, version) == []
            assert validation_errors(document, version, shipped=True) == []
        assert sdk_errors(document) == []
        assert hera_errors(document) == []
    return docs


def compiled(root: Path, *extra: str) -> list[dict[str, Any]]:
    return checked(compile_argo("flow.py", *extra, cwd=root))


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["container"] for t in document["spec"]["templates"] if "container" in t]


def test_defaults(tmp_path: Path) -> None:
    template, cron = compiled(project(tmp_path))
    spec = template["spec"]
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "activeDeadlineSeconds" not in spec  # no pipeline timeout: the run is unbounded
    boxes = containers(template)
    assert {c["args"][3] for c in boxes} == {"flow.py"}
    assert len(boxes) == 3  # a, b and the rollback
    for container in boxes:
        assert container["workingDir"] == "/app"
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert cron["spec"]["timezone"] == "UTC"
    assert cron["spec"]["startingDeadlineSeconds"] == 300


def test_every_golden_container_has_a_working_directory() -> None:
    for path in sorted(COMPILED.glob("*.argo.yaml")):
        for document in documents(path.read_text(encoding="utf-8")):
            for container in containers(document) if document["kind"] != "CronWorkflow" else []:
                assert container["workingDir"] == "/app", path.name


def test_settings_change_them(tmp_path: Path) -> None:
    config = (
        "[tool.stepc]\ntimezone = 'Europe/Helsinki'\n\n[tool.stepc.argo]\n"
        "working_dir = '/srv/project'\npod_gc = 'none'\nttl_after_success = 0\nttl_after_failure = 3600\n"
        "security_context = false\nstarting_deadline_seconds = 60\n"
    )
    template, cron = compiled(project(tmp_path, config))
    spec = template["spec"]
    assert "podGC" not in spec and "securityContext" not in spec
    assert spec["ttlStrategy"] == {"secondsAfterFailure": 3600}
    for container in containers(template):
        assert container["workingDir"] == "/srv/project" and "securityContext" not in container
    assert cron["spec"]["timezone"] == "Europe/Helsinki"
    assert cron["spec"]["startingDeadlineSeconds"] == 60


def test_the_argo_timezone_wins_over_the_project_one(tmp_path: Path) -> None:
    config = "[tool.stepc]\ntimezone = 'Europe/Helsinki'\n\n[tool.stepc.argo]\ntimezone = 'Asia/Tokyo'\n"
    config += "run_as_user = 65532\n"
    template, cron = compiled(project(tmp_path, config))
    assert cron["spec"]["timezone"] == "Asia/Tokyo"
    assert template["spec"]["securityContext"]["runAsUser"] == 65532


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pod_gcc = 'OnPodSuccess'", "unknown setting 'pod_gcc' in [tool.stepc.argo] (did you mean 'pod_gc'?)"),
        ("pod_gc = 'Sometimes'", "setting 'pod_gc' in [tool.stepc.argo] is one of \"OnPodSuccess\""),
        ("ttl_after_success = -1", "setting 'ttl_after_success' in [tool.stepc.argo] is at least 0, not -1"),
        ("run_as_user = 0", "setting 'run_as_user' in [tool.stepc.argo] is at least 1, not 0"),
        ("security_context = 'yes'", "setting 'security_context' in [tool.stepc.argo] is true or false"),
        ("timezone = 9", "setting 'timezone' in [tool.stepc.argo] is a string, not 9"),
        ("workdir = '/app'", "unknown setting 'workdir' in [tool.stepc.argo]"),
        ("starting_deadline_seconds = '5m'", "setting 'starting_deadline_seconds' in [tool.stepc.argo] is a whole"),
        ("timezone = 'Mars/Olympus'", "setting 'timezone' in [tool.stepc.argo] is an IANA time zone such as"),
        ("working_dir = '/w/{{workflow.name}}'", "setting 'working_dir' in [tool.stepc.argo] is a text without `{{`"),
        ("gpu_node_selector = {pool = '{{x}}'}", "setting 'gpu_node_selector' in [tool.stepc.argo] is a text without"),
        ("namespace = '{{workflow.namespace}}'", "setting 'namespace' in [tool.stepc.argo] is a text without `{{`"),
    ],
)
def test_a_mistyped_setting_is_t103(tmp_path: Path, line: str, message: str) -> None:
    root = project(tmp_path, f"\n[tool.stepc.argo]\n{line}\n")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=root)
    assert result.returncode == 1
    assert f"pyproject.toml:5:1: error[T103]: {message}" in result.stderr
    assert not (root / "out").exists()


def test_the_pipeline_timeout_bounds_the_whole_run_and_each_step(tmp_path: Path) -> None:
    (template, _) = compiled(project(tmp_path, extra=", timeout='2h'"))
    assert template["spec"]["activeDeadlineSeconds"] == 7200  # an integer: WorkflowSpec's type
    deadlines = {t["name"]: t.get("activeDeadlineSeconds") for t in template["spec"]["templates"]}
    assert deadlines["a"] == "30"  # its own timeout wins
    assert deadlines["b"] == "7200"  # the pipeline's is its default


def test_the_pipeline_timeout_is_in_the_ir_only_when_set(tmp_path: Path) -> None:
    root = project(tmp_path, extra=", timeout=90")
    result = stepc("ir", "flow.py", cwd=root)
    assert result.returncode == 0
    ir = json.loads(result.stdout)
    assert ir["timeout"] == 90
    jsonschema.Draft202012Validator(json_schema()).validate(ir)
    assert from_dict(ir).timeout == 90
    plain = stepc("ir", "golden/etl_branches.py")
    assert '\n  "timeout"' not in plain.stdout


FLAKY = """import os
from stepc import pipeline, step


@step(outputs=["n"], retry={"times": 2, "delay": 0.2, "backoff": 1.5}, timeout=20)
def flaky():
    attempt = int(os.environ["STEPC_ATTEMPT"])
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} fails")
    return attempt


@step(inputs=["n"], retry={"times": 1, "delay": 2, "backoff": 2})
def after(n):
    print("got", n)


pipeline("flaky", steps=[flaky, after])
"""


def test_a_fractional_backoff_retries_inside_stepc_exec(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLAKY, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"flow\.py:6:1: warning\[T101\]: step 'flaky' uses a retry backoff factor, .*not 1\.5, so "
        r"`stepc exec --retry` retries the step inside its pod",
        result.stderr,
    )
    (workflow,) = checked(result.stdout)
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    flaky, after = templates["flaky"], templates["after"]
    assert "retryStrategy" not in flaky and flaky["container"]["args"][-1] == "--retry"
    # every attempt's timeout and the waits (0.2 s, then 0.3 s), and a minute to start
    assert flaky["activeDeadlineSeconds"] == str(math.ceil(3 * 20 + 0.2 + 0.3) + 60)
    # a whole factor stays Argo's own
    assert after["retryStrategy"]["backoff"] == {"duration": "2s", "factor": "2"}
    assert "--retry" not in after["container"]["args"]
    # what the pod runs, run here as the engine would (its placeholders filled in): the
    # retries happen inside this one call
    words = [w.replace("{{workflow.name}}", "run-1") for w in flaky["container"]["args"]]
    store = (tmp_path / "store").as_uri()
    words[words.index("--store") + 1] = store
    started = time.monotonic()
    run = subprocess.run([sys.executable, *words], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    control = json.loads(run.stdout.strip().splitlines()[-1])
    assert control["status"] == "succeeded" and control["attempt"] == 3
    assert "attempt 1 failed" in run.stderr and "attempt 2 failed" in run.stderr
    assert time.monotonic() - started >= 0.5  # it waited between the attempts


def test_with_strict_the_fractional_backoff_warning_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLAKY, encoding="utf-8")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", "--strict", cwd=tmp_path)
    assert result.returncode == 1 and "retry backoff factor" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("value", "wanted"),
    [("'Nowhere/City'", "an IANA time zone such as"), ("3", "a string, not 3")],
)
def test_a_project_timezone_that_is_no_zone_is_t103(tmp_path: Path, value: str, wanted: str) -> None:
    root = project(tmp_path, f"\n[tool.stepc]\nimage = 'python:3.12'\ntimezone = {value}\n")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=root)
    assert result.returncode == 1
    assert f"pyproject.toml:6:1: error[T103]: setting 'timezone' in [tool.stepc] is {wanted}" in result.stderr
    assert not (root / "out").exists()


def test_a_stepc_toml_timezone(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW.replace("{extra}", ""), encoding="utf-8")
    (tmp_path / "stepc.toml").write_text("timezone = 'America/New_York'\n\n[argo]\npod_gc = 'OnPodCompletion'\n")
    template, cron = checked(compile_argo("flow.py", cwd=tmp_path))
    assert cron["spec"]["timezone"] == "America/New_York"
    assert template["spec"]["podGC"] == {"strategy": "OnPodCompletion"}
    (tmp_path / "stepc.toml").write_text("# zone\ntimezone = 'Atlantis'\n")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=tmp_path)
    assert result.returncode == 1
    assert "stepc.toml:2:1: error[T103]: setting 'timezone' in stepc.toml is an IANA time zone" in result.stderr
