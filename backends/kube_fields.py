"""The shapes of the Kubernetes objects a step may give Argo (tolerations, volumes, volume
mounts, affinity), checked when compiling: unknown fields (with a did-you-mean), wrong types,
missing required fields, a volume with no source or two.

The tables spell Kubernetes' field names and types (core/v1); tests/test_engine_settings.py
holds them to the definitions of Argo's own JSON schema, so they cannot drift from it. Objects
deeper than these tables (a node affinity's terms, a CSI driver's options) are left to the
engine, which validates the pod it creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepc.diagnostics import did_you_mean

# A field's type: a JSON type, "quantity" (a string such as "1Gi"), "table" (an object not
# described here), ("list", T), or the name of an object below.
FieldType = str | tuple[str, str]


@dataclass(frozen=True)
class Shape:
    """One object: its fields and types, the required ones, and whether exactly one of some
    fields must be given (a volume's source)."""

    fields: Mapping[str, FieldType]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()


VOLUME_SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi", "downwardAPI",
    "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs",
    "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume",
    "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume",
)  # fmt: skip
# The sources described field by field (the common ones); the others are checked as tables.
_DESCRIBED_SOURCES = {
    "emptyDir": "EmptyDirVolumeSource",
    "persistentVolumeClaim": "PersistentVolumeClaimVolumeSource",
    "secret": "SecretVolumeSource",
    "configMap": "ConfigMapVolumeSource",
    "hostPath": "HostPathVolumeSource",
    "nfs": "NFSVolumeSource",
}

SHAPES: dict[str, Shape] = {
    "Toleration": Shape(
        {"effect": "string", "key": "string", "operator": "string", "tolerationSeconds": "integer", "value": "string"}
    ),
    "VolumeMount": Shape(
        {
            "mountPath": "string",
            "mountPropagation": "string",
            "name": "string",
            "readOnly": "boolean",
            "recursiveReadOnly": "string",
            "subPath": "string",
            "subPathExpr": "string",
        },
        required=("name", "mountPath"),
    ),
    "Volume": Shape(
        {"name": "string", **{s: _DESCRIBED_SOURCES.get(s, "table") for s in VOLUME_SOURCES}},
        required=("name",),
        one_of=VOLUME_SOURCES,
    ),
    "Affinity": Shape({"nodeAffinity": "table", "podAffinity": "table", "podAntiAffinity": "table"}),
    "EmptyDirVolumeSource": Shape({"medium": "string", "sizeLimit": "quantity"}),
    "PersistentVolumeClaimVolumeSource": Shape({"claimName": "string", "readOnly": "boolean"}, required=("claimName",)),
    "SecretVolumeSource": Shape(
        {"defaultMode": "integer", "items": ("list", "KeyToPath"), "optional": "boolean", "secretName": "string"}
    ),
    "ConfigMapVolumeSource": Shape(
        {"defaultMode": "integer", "items": ("list", "KeyToPath"), "name": "string", "optional": "boolean"}
    ),
    "HostPathVolumeSource": Shape({"path": "string", "type": "string"}, required=("path",)),
    "NFSVolumeSource": Shape(
        {"path": "string", "readOnly": "boolean", "server": "string"}, required=("server", "path")
    ),
    "KeyToPath": Shape({"key": "string", "mode": "integer", "path": "string"}, required=("key", "path")),
}

_JSON_TYPES = {
    "string": (str,),
    "quantity": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "table": (dict,),
}
_TYPE_TEXT = {
    "string": "a string",
    "quantity": 'a quantity such as "1Gi"',
    "integer": "a whole number",
    "boolean": "true or false",
    "table": "a table",
}


def problem(value: Any, kind: FieldType, where: str) -> str | None:
    """What is wrong with ``value`` as a ``kind`` at ``where`` (a path such as
    ``volumes[0].emptyDir``), or None."""
    if isinstance(kind, tuple):
        if not isinstance(value, list):
            return f"{where} must be a list"
        for index, item in enumerate(value):
            found = problem(item, kind[1], f"{where}[{index}]")
            if found:
                return found
        return None
    if kind in SHAPES:
        return _object_problem(value, SHAPES[kind], where)
    accepted = _JSON_TYPES[kind]
    wrong_bool = isinstance(value, bool) and bool not in accepted
    if wrong_bool or not isinstance(value, accepted):
        return f"{where} must be {_TYPE_TEXT[kind]}, not {value!r}"
    return None


def _object_problem(value: Any, shape: Shape, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} must be a table, not {value!r}"
    for key in value:
        if key not in shape.fields:
            hint = did_you_mean(key, shape.fields)
            return f"{where} has no field '{key}'{hint}"
    for key in shape.required:
        if key not in value:
            return f"{where} needs '{key}'"
    if shape.one_of:
        given = [k for k in shape.one_of if k in value]
        if len(given) != 1:
            given_text = ", ".join(given) or "none given"
            return f"{where} needs exactly one source ({given_text}), e.g. emptyDir or persistentVolumeClaim"
    for key, item in value.items():
        found = problem(item, shape.fields[key], f"{where}.{key}")
        if found:
            return found
    return None
