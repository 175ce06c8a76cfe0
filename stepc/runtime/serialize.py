"""Artifact serialisation: JSON where the value is plain data, pickle otherwise.

A value is written as JSON only when reading it back gives an equal value of the same types
(so tuples, sets, non-string dict keys, NaN and user objects go to pickle). The chosen format is
recorded with the artifact, so readers never guess. The content hash is taken over the bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from typing import Any, Literal

Format = Literal["json", "pickle"]
EXTENSIONS: dict[str, str] = {"json": ".json", "pickle": ".pkl"}


def is_plain(value: Any, depth: int = 0) -> bool:
    """True when ``value`` survives a JSON round trip unchanged, types included."""
    if depth > 200:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if type(value) is list:
        return all(is_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_plain(v, depth + 1) for k, v in value.items())
    return False


def dumps(value: Any) -> tuple[bytes, Format]:
    """The bytes of ``value`` and their format."""
    if is_plain(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), "json"
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "pickle"


def loads(data: bytes, fmt: str) -> Any:
    """Read bytes written by :func:`dumps` in format ``fmt``."""
    if fmt == "json":
        return json.loads(data)
    if fmt == "pickle":
        return pickle.loads(data)
    raise ValueError(f"unknown artifact format {fmt!r}")


def digest(data: bytes) -> str:
    """The content hash used for lineage and ``input_hash`` caching."""
    return hashlib.sha256(data).hexdigest()
