"""The settings of the Argo target (``[tool.stepc.argo]``, or a step's ``@engine(argo=)``)."""

from __future__ import annotations

import zoneinfo
from dataclasses import replace
from functools import cache
from typing import Any

from .argo_pod import POD_SETTINGS
from .kubernetes import KUBERNETES_SETTINGS
from .settings import Setting


def _no_tag(value: Any) -> str | None:
    """A setting's rule: no ``{{`` in a value Argo reads (it would be a template tag)."""
    texts = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
    if not any("{{" in str(t) for t in texts):
        return None
    return f"a text without `{{{{` (Argo would read it as a template tag), not {value!r}"


@cache
def _zones() -> frozenset[str]:
    try:
        return frozenset(zoneinfo.available_timezones())
    except (OSError, ValueError):  # no time zone database here: take the name as written
        return frozenset()


def valid_zone(value: Any) -> str | None:
    """A setting's rule: an IANA time zone name (when this machine has the database to tell)."""
    zones = _zones()
    if not zones or value in zones:
        return None
    return f'an IANA time zone such as "UTC" or "Europe/Helsinki", not {value!r}'


ARGO_SETTINGS: dict[str, Setting] = {
    "kind": Setting(
        "string",
        None,
        "the document kind (`--argo-kind` overrides)",
        choices=("workflow", "template", "cron"),
        shown="`cron` with a schedule, else `workflow`",
    ),
    "namespace": Setting("string", None, "`metadata.namespace` of the documents", check=_no_tag),
    "service_account": Setting("string", None, "the service account the pods run as", check=_no_tag),
    "store": Setting("string", "s3://stepc/store", "the shared artifact store URL"),
    "store_secret": Setting(
        "string",
        "stepc-store",
        "a Kubernetes secret whose keys become the store credentials' environment variables; empty to omit",
        check=_no_tag,
    ),
    "working_dir": Setting(
        "string",
        "/app",
        "every container's working directory: where the image holds the project (the flow path "
        "`stepc exec` gets is relative to it), as a Dockerfile's `WORKDIR /app` + `COPY . .` puts it",
        check=_no_tag,
    ),
    "security_context": Setting(
        "boolean",
        True,
        "a restricted security context: pods run as `run_as_user` (runAsNonRoot, RuntimeDefault seccomp), "
        "containers without privilege escalation or capabilities; false runs the image's own user",
    ),
    "run_as_user": Setting(
        "integer",
        1000,
        "the user, group and fsGroup id of the pods under `security_context` (not 0: runAsNonRoot)",
        minimum=1,
    ),
    "pod_gc": Setting(
        "string",
        "OnPodSuccess",
        'when Argo deletes finished pods (`podGC.strategy`; failed pods stay for their logs); `"none"` keeps every pod',
        choices=("OnPodSuccess", "OnPodCompletion", "OnWorkflowSuccess", "OnWorkflowCompletion", "none"),
    ),
    "ttl_after_success": Setting(
        "integer",
        86400,
        "seconds a succeeded workflow is kept before Argo deletes it (`ttlStrategy`); 0 keeps it",
        minimum=0,
    ),
    "ttl_after_failure": Setting(
        "integer",
        604800,
        "seconds a failed workflow is kept before Argo deletes it (`ttlStrategy`); 0 keeps it",
        minimum=0,
    ),
    "timezone": Setting(
        "string",
        None,
        "the IANA zone the CronWorkflow reads its schedule in",
        shown='`[tool.stepc] timezone`, else `"UTC"`',
        check=valid_zone,
    ),
    "starting_deadline_seconds": Setting(
        "integer",
        300,
        "how many seconds late a missed scheduled run may still start (`startingDeadlineSeconds`)",
        minimum=0,
    ),
    **{key: replace(s, check=_no_tag) for key, s in KUBERNETES_SETTINGS.items()},
    **POD_SETTINGS,
}
