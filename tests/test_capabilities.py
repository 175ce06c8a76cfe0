"""Capabilities are data: for every built-in target and every feature, a small real flow that
uses exactly that feature (tests/flows/features/<feature>.py) compiles as the target's tables
say: yes -> no T101 and files; partial -> one T101 warning with the table's text and files;
no -> a T101 error at the step's line and no files. `stepc targets` prints the same tables,
settings that make a feature whole lift its warning, and `--strict` makes partial an error."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from stepc.backends.argo import ArgoBackend
from stepc.backends.base import Backend
from stepc.backends.features import FEATURE_TEXT, pipeline_features, step_features

from stepc.config import DEFAULT_IMAGE, Config, find_config
from stepc.frontend import load
from stepc.ir import Pipeline
from stepc.targets import available_targets, load_target
from tests.helpers import REPO, stepc

FEATURES_DIR = REPO / "tests" / "flows" / "features"
BUILT_IN = ["argo", "airflow", "gha", "valohai"]
# What a flow cannot use one feature without (a chained map is a foreach over a foreach, ...).
REQUIRES: dict[str, set[str]] = {
    "chained_map": {"foreach"},
    "retry_delay": {"retry"},
    "retry_backoff": {"retry", "retry_delay"},
    "artifact_condition": {"after"},  # a flow class's switch: its edges carry no artifact
    # a scope's steps read the item the step before them had: a chained map in the IR
    "nested_foreach": {"foreach", "chained_map", "after"},
    "branch_in_foreach": {"foreach", "chained_map", "after"},
    "switch_in_foreach": {"foreach", "chained_map", "after", "artifact_condition", "merge"},
    "recursive_switch": {"artifact_condition", "after"},  # the case that leaves the loop
    "max_parallel": {"foreach"},  # it bounds a fan-out
}

# The tables as this test states them, written out once more by hand: a change to a backend's
# FEATURES or PARTIAL must change this too (columns: argo, airflow, gha, valohai).
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "foreach": ("yes", "yes", "yes", "yes"),
    "foreach_param": ("yes", "yes", "yes", "yes"),
    "chained_map": ("yes", "yes", "yes", "yes"),
    "condition": ("yes", "yes", "yes", "yes"),
    "artifact_condition": ("yes", "yes", "yes", "yes"),
    "merge": ("yes", "yes", "yes", "yes"),
    "retry": ("yes", "yes", "partial", "partial"),  # GitHub and Valohai: inside one job / execution
    "retry_delay": ("yes", "yes", "yes", "yes"),
    "retry_backoff": ("yes", "partial", "yes", "yes"),  # Airflow's jitter
    "timeout": ("yes", "yes", "partial", "partial"),  # GitHub and Valohai bound the whole task
    "resources": ("yes", "partial", "yes", "yes"),  # a BashOperator reserves nothing
    "gpu": ("yes", "partial", "partial", "partial"),  # until a GPU pool / runner / environment is set
    "image": ("yes", "partial", "yes", "yes"),  # Airflow: a worker's own environment; GitHub: a job container
    "rollback": ("yes", "yes", "yes", "partial"),  # Valohai: no failure hook
    "group": ("yes", "yes", "yes", "yes"),
    "cache": ("partial", "partial", "partial", "partial"),  # only `stepc run` caches
    "after": ("yes", "yes", "yes", "yes"),
    "schedule": ("yes", "yes", "yes", "partial"),  # valohai.yaml holds none
    "branch_in_foreach": ("yes", "yes", "yes", "yes"),
    "nested_foreach": ("yes", "yes", "yes", "yes"),  # a lister task publishes the index paths
    "switch_in_foreach": ("yes", "yes", "yes", "yes"),
    "recursive_switch": ("yes", "no", "no", "no"),  # Argo: a DAG template calling itself; others are acyclic
    "max_parallel": ("yes", "yes", "yes", "partial"),  # a Valohai task node holds no bound
    "run_max_parallel": ("yes", "yes", "partial", "partial"),  # GitHub: per matrix; Valohai: none
}


class RefusesEverything(ArgoBackend):
    """A real backend whose table is empty: every feature is "no" (built-ins have few of those)."""

    NAME = "refuses"
    FEATURES: ClassVar[frozenset[str]] = frozenset()


# The project image the feature flows run in, as a project's [tool.stepc] image gives it: the
# default image holds no stepc, which every container target warns of (tests/test_image.py).
PROJECT_IMAGE = "ghcr.io/acme/project:1"


def feature_flow(feature: str) -> tuple[Pipeline, Path]:
    path = FEATURES_DIR / f"{feature}.py"
    pipeline, found = load(str(path), None)
    assert pipeline is not None and not [d for d in found if d.severity == "error"], found
    steps = tuple(
        dataclasses.replace(s, image=PROJECT_IMAGE) if s.image == DEFAULT_IMAGE else s for s in pipeline.steps
    )
    return dataclasses.replace(pipeline, image=PROJECT_IMAGE, steps=steps), path


def used_features(pipeline: Pipeline) -> set[str]:
    return {f for s in pipeline.steps for f in step_features(pipeline, s)} | set(pipeline_features(pipeline))


def test_every_feature_has_a_flow_and_every_table_names_known_features() -> None:
    assert sorted(p.stem for p in FEATURES_DIR.glob("*.py")) == sorted(FEATURE_TEXT) == sorted(EXPECTED)
    for column, name in enumerate(BUILT_IN):
        backend = load_target(name)
        assert {f: backend.support(f) for f in FEATURE_TEXT} == {f: row[column] for f, row in EXPECTED.items()}, name
        assert set(FEATURE_TEXT) >= backend.FEATURES, name
        assert set(backend.PARTIAL) <= backend.FEATURES, name
        # the tables `stepc targets` prints are the ones in force with default settings
        assert backend(Config(None, {})).partial() == backend.PARTIAL, name


@pytest.mark.parametrize("feature", list(FEATURE_TEXT))
def test_each_flow_uses_exactly_its_feature(feature: str) -> None:
    pipeline, _ = feature_flow(feature)
    assert used_features(pipeline) == {feature} | REQUIRES.get(feature, set())


def expected_t101(backend: Backend, pipeline: Pipeline) -> tuple[list[tuple[str, int, str]], bool]:
    """(severity, line, message part) of every T101 the tables call for, and whether files come."""
    expected = []
    for feature in sorted(used_features(pipeline)):
        text = FEATURE_TEXT[feature]
        steps = [s for s in pipeline.steps if feature in step_features(pipeline, s)]
        level = backend.support(feature)
        if level == "no":
            what = f"which the {backend.NAME} target cannot express"
            if steps:
                expected += [("error", s.span.line, f"step '{s.name}' uses {text}, {what}") for s in steps]
            else:
                expected.append(("error", 1, f"pipeline '{pipeline.name}' has {text}, {what}"))
        elif level == "partial":
            note = f"{text}: {backend.PARTIAL[feature]} ({backend.NAME})"
            if steps:
                more = f" (and {len(steps) - 1} more)" if len(steps) > 1 else ""
                expected.append(("warning", steps[0].span.line, f"step '{steps[0].name}'{more} uses {note}"))
            else:
                expected.append(("warning", 1, f"pipeline '{pipeline.name}' has {note}"))
    return expected, not any(severity == "error" for severity, _, _ in expected)


def assert_compiles_as_the_table_says(backend: Backend, feature: str) -> None:
    pipeline, _ = feature_flow(feature)
    files, found = backend.compile(pipeline)
    t101 = sorted((d.severity, d.line, d.message) for d in found if d.code == "T101")
    expected, produces = expected_t101(backend, pipeline)
    assert len(t101) == len(expected), (backend.NAME, feature, t101)
    for (severity, line, message), (want_severity, want_line, part) in zip(t101, sorted(expected), strict=True):
        assert (severity, line) == (want_severity, want_line), (backend.NAME, feature, message)
        assert part in message, (backend.NAME, feature, message)
    assert all(d.severity != "error" for d in found) == produces, found
    assert bool(files) == produces
    if backend.support(feature) == "yes":
        assert not t101 or all(FEATURE_TEXT[feature] not in m for _, _, m in t101)


@pytest.mark.parametrize("target", BUILT_IN)
@pytest.mark.parametrize("feature", list(FEATURE_TEXT))
def test_a_built_in_target_compiles_each_feature_as_its_tables_say(target: str, feature: str) -> None:
    backend = load_target(target)(find_config(FEATURES_DIR))
    assert_compiles_as_the_table_says(backend, feature)


@pytest.mark.parametrize("feature", list(FEATURE_TEXT))
def test_a_feature_missing_from_the_table_is_an_error_at_the_step_and_no_files(feature: str) -> None:
    backend = RefusesEverything(find_config(FEATURES_DIR))
    assert backend.support(feature) == "no"
    assert_compiles_as_the_table_says(backend, feature)


@pytest.mark.parametrize(
    ("target", "settings", "whole"),
    [
        ("airflow", {"operator": "kubernetes"}, ["resources", "gpu", "image"]),
        ("airflow", {"gpu_pool": "gpus"}, ["gpu"]),
        ("gha", {"runners": [{"runs_on": "gpu-runner", "gpu": 1}]}, ["gpu"]),
        ("valohai", {"environments": [{"environment": "g4dn", "gpu": 1}]}, ["gpu"]),
    ],
)
def test_settings_that_make_a_feature_whole_lift_its_warning(
    target: str, settings: dict[str, Any], whole: list[str]
) -> None:
    backend = load_target(target)(Config(None, {target: settings}))
    for feature in whole:
        assert backend.support(feature) == "partial"  # the table: default settings
        pipeline, _ = feature_flow(feature)
        files, found = backend.compile(pipeline)
        assert files and [d for d in found if d.code == "T101"] == [], (feature, found)


def parse_targets(stdout: str) -> dict[str, dict[str, str]]:
    """`stepc targets`' table as target -> feature text -> mark."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("feature "))
    names = lines[start].split()[1:]
    table: dict[str, dict[str, str]] = {name: {} for name in names}
    for line in lines[start + 1 : start + 1 + len(FEATURE_TEXT)]:
        text = next(t for t in FEATURE_TEXT.values() if line.startswith(t + " "))
        for name, mark in zip(names, line[len(text) :].split(), strict=True):
            table[name][text] = mark
    return table


def test_stepc_targets_prints_the_tables() -> None:
    result = stepc("targets")
    assert result.returncode == 0, result.stderr
    table = parse_targets(result.stdout)
    assert set(table) == set(available_targets())
    for name in BUILT_IN:
        backend = load_target(name)
        assert table[name] == {text: backend.support(f) for f, text in FEATURE_TEXT.items()}, name
        for feature, note in backend.PARTIAL.items():
            assert f"  {name}: {FEATURE_TEXT[feature]}: {note}\n" in result.stdout


def test_strict_makes_partial_support_an_error_and_writes_nothing(tmp_path: Path) -> None:
    flow = str(FEATURES_DIR / "cache.py")
    out = tmp_path / "out"
    strict = stepc("compile", flow, "--target", "argo", "--strict", "-o", str(out))
    assert strict.returncode == 1
    assert re.search(r"cache\.py:\d+:1: error\[T101\]: step 'load' uses caching: .*\[--strict\]", strict.stderr)
    assert not out.exists()
    relaxed = stepc("compile", flow, "--target", "argo", "-o", str(out))
    assert relaxed.returncode == 0 and "warning[T101]: step 'load' uses caching" in relaxed.stderr
    assert (out / "cache.argo.yaml").is_file()
    # a flow every target expresses in full passes --strict
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.stepc]\nimage = "{PROJECT_IMAGE}"\n', encoding="utf-8")
    (project / "after.py").write_text((FEATURES_DIR / "after.py").read_text(encoding="utf-8"), encoding="utf-8")
    whole = stepc("compile", "after.py", "--target", "all", "--strict", "-o", str(tmp_path / "w"), cwd=project)
    assert whole.returncode == 0 and "T101" not in whole.stderr, whole.stderr


@pytest.mark.parametrize("target", BUILT_IN)
def test_a_group_whose_steps_differ_in_timeouts_says_it_gets_none(target: str, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    source = (FEATURES_DIR / "group.py").read_text(encoding="utf-8")
    flow.write_text(source.replace('group="ingest")\ndef fetch', 'group="ingest", timeout=60)\ndef fetch'))
    pipeline, found = load(str(flow), None)
    assert pipeline is not None and pipeline.steps[0].timeout == 60, found
    files, found = load_target(target)(find_config(tmp_path)).compile(pipeline)
    warnings = [d for d in found if d.code == "T101" and "group 'ingest' runs as one task" in d.message]
    assert files and len(warnings) == 1 and warnings[0].severity == "warning"
    assert "step 'fetch' uses a timeout" in warnings[0].message
