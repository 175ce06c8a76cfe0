"""Argo's typed models as a second and third validator: the official `argo-workflows` SDK
(its ApiClient deserialises with type checking, as it does a server's answer) and Hera's
pydantic models. Both type IntOrString fields as strings and the workflow-level ones as
integers, which the JSON schemas (made lenient on IntOrString in tests) do not check."""

from __future__ import annotations

import json
from typing import Any


class _Response:
    """What ``ApiClient.deserialize`` reads: an object with the body in ``data``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.data = json.dumps(document)


def sdk_errors(document: dict[str, Any]) -> list[str]:
    """Why the argo-workflows SDK refuses ``document`` (empty when it loads)."""
    import argo_workflows
    from argo_workflows.model.io_argoproj_workflow_v1alpha1_cron_workflow import (
        IoArgoprojWorkflowV1alpha1CronWorkflow,
    )
    from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow import IoArgoprojWorkflowV1alpha1Workflow
    from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_template import (
        IoArgoprojWorkflowV1alpha1WorkflowTemplate,
    )

    models: dict[str, Any] = {
        "Workflow": IoArgoprojWorkflowV1alpha1Workflow,
        "WorkflowTemplate": IoArgoprojWorkflowV1alpha1WorkflowTemplate,
        "CronWorkflow": IoArgoprojWorkflowV1alpha1CronWorkflow,
    }
    client = argo_workflows.ApiClient()
    try:
        loaded = client.deserialize(_Response(document), (models[document["kind"]],), True)
    except Exception as exc:  # the SDK raises ApiTypeError, ApiValueError, ...
        return [f"{type(exc).__name__}: {exc}"]
    if not isinstance(loaded, models[document["kind"]]):
        return [f"loaded as {type(loaded).__name__}"]
    return []


def hera_errors(document: dict[str, Any]) -> list[str]:
    """Why Hera's models refuse ``document`` (empty when it validates), in pydantic's strict mode:
    no coercion between numbers and strings."""
    import pydantic
    from hera.workflows import models

    classes: dict[str, Any] = {
        "Workflow": models.Workflow,
        "WorkflowTemplate": models.WorkflowTemplate,
        "CronWorkflow": models.CronWorkflow,
    }
    try:
        classes[document["kind"]].model_validate(document, strict=True)
    except pydantic.ValidationError as exc:
        return [str(exc)]
    return []
