"""What a step may set of its Argo pod (``engine={"argo": {...}}``, defaults in
``[tool.stepc.argo]``): tolerations, node selector, affinity, volumes and mounts, a pod spec
patch and labels; its secrets as environment variables; its tags as labels.

Every value is checked when compiling (see :mod:`backends.kube_fields`), and no text of it
may hold ``{{``: Argo would evaluate it as a template tag.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from stepc.diagnostics import Diagnostic
from stepc.ir import Pipeline, Step, thaw

from .kube_fields import problem
from .settings import Setting

LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The prefix of the labels that tags become: a domain of stepc's, so they cannot clash with
# the user's own labels or Kubernetes' (kubernetes.io/...).
TAG_PREFIX = "tags.stepc.dev/"


def texts(value: Any) -> list[str]:
    """Every string inside plain data, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*texts(k), *texts(v))]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in texts(v)]
    return []


def _tagless(value: Any) -> str | None:
    found = next((t for t in texts(value) if "{{" in t), None)
    return None if found is None else f"free of `{{{{` (Argo would read it as a template tag), not {found!r}"


def _checked(kind: str) -> Callable[[Any], str | None]:
    """A setting's rule: of Kubernetes' shape ``kind`` (a list of them for a list value)."""

    def check(value: Any) -> str | None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                found = problem(item, kind, f"item {index}")
                if found:
                    return f"not valid: {found}"
        else:
            found = problem(value, kind, kind[0].lower() + kind[1:])
            if found:
                return f"not valid: {found}"
        return _tagless(value)

    return check


def label_problem(key: str, value: str) -> str | None:
    """Why ``key: value`` is not a Kubernetes label, or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        rule = "1 to 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
        return f"label key {key!r}: the name must be {rule}"
    if len(value) > 63 or not LABEL_NAME.match(value):
        return f"label value {value!r}: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _labels(value: Any) -> str | None:
    for key, item in value.items():
        found = label_problem(key, item)
        if found:
            return f"not valid: {found}"
    return _tagless(value)


def _patch(value: Any) -> str | None:
    try:
        patch = yaml.safe_load(value)
    except yaml.YAMLError:
        patch = None
    if not isinstance(patch, dict):
        return f"a pod spec in YAML or JSON (a mapping, such as '{{\"hostIPC\": true}}'), not {value!r}"
    return _tagless(value)


# Rows of the Argo SETTINGS table (`step=True`: a step may set its own).
POD_SETTINGS: dict[str, Setting] = {
    "tolerations": Setting(
        "tables", [], "the pods' `tolerations` (Kubernetes Toleration objects)", check=_checked("Toleration"), step=True
    ),
    "node_selector": Setting(
        "table",
        {},
        "node labels the pods are scheduled by (`nodeSelector`, besides a GPU step's)",
        check=_labels,
        step=True,
    ),
    "affinity": Setting(
        "object", {}, "the pods' `affinity` (a Kubernetes Affinity object)", check=_checked("Affinity"), step=True
    ),
    "volumes": Setting(
        "tables",
        [],
        "`volumes` of the pods (Kubernetes Volume objects: a PVC, an `emptyDir` for `/dev/shm`, ...)",
        check=_checked("Volume"),
        step=True,
    ),
    "volume_mounts": Setting(
        "tables",
        [],
        "the container's `volumeMounts` (each names a volume of `volumes`)",
        check=_checked("VolumeMount"),
        step=True,
    ),
    "pod_spec_patch": Setting(
        "string",
        None,
        "Argo's `podSpecPatch`: a pod spec fragment (YAML or JSON) merged into the pods",
        check=_patch,
        step=True,
    ),
    "labels": Setting("table", {}, "labels of the pods (besides those of the step's tags)", check=_labels, step=True),
    "secret": Setting(
        "string",
        "stepc-secrets",
        "the Kubernetes secret holding a step's `secrets=`: each name is a key of it, set as the variable of that name",
        check=lambda v: None if DNS_SUBDOMAIN.match(v) and len(v) <= 253 else f"a Kubernetes secret name, not {v!r}",
        step=True,
    ),
}


def mount_problems(pipeline: Pipeline, step: Step, setting: Callable[[str], Any]) -> list[Diagnostic]:
    """T103 at a step's ``volume_mounts`` (else its ``volumes``, else the step) for a mount
    naming no volume of its pod, which would never start; ``setting`` gives the project's."""
    own = step.engine_settings("argo")
    value = {k: thaw(own[k].value) if k in own else setting(k) for k in ("volumes", "volume_mounts")}
    if not all(isinstance(v, list) for v in value.values()):
        return []  # a wrong kind is the settings check's to report
    names = {v.get("name") for v in value["volumes"] if isinstance(v, dict)}
    missing = [
        repr(m.get("name")) for m in value["volume_mounts"] if isinstance(m, dict) and m.get("name") not in names
    ]
    if not missing:
        return []
    entry = own.get("volume_mounts") or own.get("volumes")
    span = entry.span if entry is not None and entry.span is not None else step.span
    message = f"step '{step.name}' mounts {', '.join(missing)}, which no volume of its pod is named"
    if span is None:
        return [Diagnostic("T103", message, pipeline.source)]
    return [Diagnostic("T103", message, span.file, span.line, span.col, end_col=span.end_col)]


def _label_part(text: str, empty_ok: bool) -> str:
    """``text`` as a label name or value: kept when it is one; else its invalid characters as
    ``-``, trimmed to alphanumeric ends and 54 characters, with 8 hex digits of its hash, so
    that two tags never become one label and the same tag is the same label on every compile."""
    if len(text) <= 63 and LABEL_NAME.match(text) and (text or empty_ok):
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:54]
    cleaned = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
    return f"{cleaned}-{digest}" if cleaned else digest


def tag_labels(tags: dict[str, str]) -> dict[str, str]:
    """Labels for a task's tags (``tags.stepc.dev/<tag>: <value>``, a list tag's value empty),
    each part sanitised by :func:`_label_part`; the ``stepc.dev/tags`` annotation keeps them as written."""
    return {TAG_PREFIX + _label_part(k, empty_ok=False): _label_part(v, empty_ok=True) for k, v in sorted(tags.items())}


@dataclass(frozen=True)
class PodView:
    """The pod settings of one container template (empty: nothing is written)."""

    labels: list[tuple[str, str]] = field(default_factory=list)
    tolerations: list[Any] = field(default_factory=list)
    affinity: dict[str, Any] = field(default_factory=dict)
    volumes: list[Any] = field(default_factory=list)
    volume_mounts: list[Any] = field(default_factory=list)
    pod_spec_patch: str | None = None
    secret_env: list[tuple[str, str]] = field(default_factory=list)  # (variable and key, secret)


def pod_view(value: Callable[[str], Any], tags: dict[str, str], secrets: tuple[str, ...]) -> PodView:
    """A task's pod settings, each from ``value(key)`` (the task's own or the project's)."""
    labels = {**tag_labels(tags), **value("labels")}
    secret = value("secret")
    return PodView(
        labels=sorted(labels.items()),
        tolerations=list(value("tolerations")),
        affinity=dict(value("affinity")),
        volumes=list(value("volumes")),
        volume_mounts=list(value("volume_mounts")),
        pod_spec_patch=value("pod_spec_patch"),
        secret_env=[(name, secret) for name in secrets],
    )
