"""Argo's own JSON schemas (from ../shared/argo), made strict as its README describes."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema

from tests.helpers import shared_dir

VERSIONS = ("schema-v4.json", "schema-v3.7.18.json")
ROOTS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
}


@cache
def _shipped(version: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((shared_dir("argo") / version).read_text(encoding="utf-8"))
    return loaded


@cache
def _strict(version: str) -> dict[str, Any]:
    schema = copy.deepcopy(_shipped(version))
    for definition in schema["definitions"].values():
        if definition.get("type") == "object" and "properties" in definition:
            definition.setdefault("additionalProperties", False)
    schema["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return schema


def validation_errors(document: dict[str, Any], version: str, *, shipped: bool = False) -> list[str]:
    """Every schema violation of ``document`` under the strict ``version`` schema (or the
    schema as shipped: IntOrString typed string-only, objects open)."""
    schema = _shipped(version) if shipped else _strict(version)
    root = {"$ref": f"#/definitions/{ROOTS[document['kind']]}", "definitions": schema["definitions"]}
    validator = jsonschema.Draft202012Validator(root)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
