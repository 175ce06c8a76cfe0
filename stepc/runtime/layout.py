"""How names become path segments in the store: percent-quoted, one-to-one, never one of the
store's own file names and never longer than a file name may be (see :mod:`stepc.runtime.store`)."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

RUN_RECORD = "run.json"  # what was run: written by the runner into the run's folder
# The store's own files in a run's folder, beside the step folders.
RUN_FILES = frozenset({RUN_RECORD})

# A file name may have 255 bytes (NAME_MAX); this leaves room for ``out.``, an extension and
# what a temporary name adds.
SEGMENT_BYTES = 200


def _fit(quoted: str, name: str) -> str:
    """``quoted`` cut to :data:`SEGMENT_BYTES` when longer, ending with a hash of ``name``."""
    if len(quoted) <= SEGMENT_BYTES:  # quoted, so ASCII: characters are bytes
        return quoted
    head = quoted[: SEGMENT_BYTES - 17]
    escape = head.rfind("%", len(head) - 2)
    head = head[:escape] if escape != -1 else head  # never end inside a %XX escape
    # '+' is quoted in every other segment, so a cut one never equals a whole one.
    return f"{head}+{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}"


def segment(name: str) -> str:
    """A run id or an artifact name as a path segment: readable, but never one that escapes
    its directory (``.``, ``..``, a slash) or is too long for a file name."""
    quoted = quote(name, safe="") if name not in (".", "..") else quote(name.replace(".", "%2E"))
    return _fit(quoted, name)


def step_segment(name: str) -> str:
    """A step's folder name in its run's folder: percent-quoted, and with its dots quoted too
    when it is spelt like a file of the store's own (a step may be named ``run.json``), so no
    step name can take the place of one; a name too long for a file name is cut and hashed
    (see :func:`is_cut`). Otherwise ``unquote`` gives the name back."""
    return quote(name, safe="").replace(".", "%2E") if name in RUN_FILES else segment(name)


def is_cut(folder: str) -> bool:
    """Whether a folder name is a long name cut short (``unquote`` cannot give the name)."""
    return "+" in folder
