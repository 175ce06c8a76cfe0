"""Every Argo document stepc writes loads through the official argo-workflows SDK and Hera's
models, besides the JSON schemas (tests/test_argo.py): golden outputs, every document kind,
the foreach-scope flows and the hostile-string flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argo_models import hera_errors, sdk_errors
from tests.argo_schema import VERSIONS, validation_errors
from tests.test_argo import COMPILED, SCOPE_FLOWS, compile_argo, documents

GOLDEN_ARGO = sorted(COMPILED.glob("*.argo.yaml"))


def assert_models_load(text: str) -> list[dict[str, Any]]:
    docs = documents(text)
    assert docs
    for document in docs:
        assert sdk_errors(document) == [], document["kind"]
        assert hera_errors(document) == [], document["kind"]
        for version in VERSIONS:  # and the schemas as Argo ships them (IntOrString string-only)
            assert validation_errors(document, version, shipped=True) == [], (version, document["kind"])
    return docs


def test_there_are_golden_argo_files() -> None:
    assert len(GOLDEN_ARGO) >= 6


@pytest.mark.parametrize("path", GOLDEN_ARGO, ids=lambda p: p.name)
def test_golden_documents_load_through_the_sdk_and_hera(path: Path) -> None:
    assert_models_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["workflow", "template", "cron"])
def test_every_kind_loads_through_the_sdk_and_hera(kind: str) -> None:
    docs = assert_models_load(compile_argo("golden/iris_training.py", "--argo-kind", kind))
    last = {"workflow": "Workflow", "template": "WorkflowTemplate", "cron": "CronWorkflow"}[kind]
    assert docs[-1]["kind"] == last


@pytest.mark.parametrize(("flow", "pipeline"), SCOPE_FLOWS, ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_scope_flows_load_through_the_sdk_and_hera(flow: str, pipeline: str | None) -> None:
    assert_models_load(compile_argo(flow, *(("--pipeline", pipeline) if pipeline else ())))


def test_the_sdk_catches_an_integer_where_argo_types_int_or_string() -> None:
    (workflow,) = documents((COMPILED / "feature-tour.argo.yaml").read_text(encoding="utf-8"))
    template = next(t for t in workflow["spec"]["templates"] if "activeDeadlineSeconds" in t)
    assert isinstance(template["activeDeadlineSeconds"], str)
    template["activeDeadlineSeconds"] = int(template["activeDeadlineSeconds"])
    assert any("active_deadline_seconds" in e for e in sdk_errors(workflow))


def test_hera_catches_a_wrong_type() -> None:
    (workflow,) = documents((COMPILED / "feature-tour.argo.yaml").read_text(encoding="utf-8"))
    workflow["spec"]["templates"][0]["dag"]["tasks"] = "not a list"
    assert hera_errors(workflow)


def test_a_document_round_trips_through_yaml_unchanged() -> None:
    text = (COMPILED / "feature-tour.argo.yaml").read_text(encoding="utf-8")
    (workflow,) = documents(text)
    assert documents(yaml.safe_dump(workflow)) == [workflow]
