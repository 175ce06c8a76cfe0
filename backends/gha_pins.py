"""The actions a generated workflow uses, each pinned by the full commit SHA of a release.

A tag such as ``v7`` can be moved to other code by whoever controls the action's repository;
a 40-hex commit cannot. Each ``uses:`` line names the commit and carries the release in a
trailing comment (``actions/checkout@<sha> # v7.0.1``), the form Dependabot and Renovate
read and update. ``[tool.stepc.gha] pins`` overrides an entry, in the same form:

    [tool.stepc.gha.pins]
    "actions/checkout" = "3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"

The table is data: bump a version by changing its row (commit and tag of the same release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .quoting import Quoted


@dataclass(frozen=True)
class Pin:
    sha: str
    version: str | None = None

    def uses(self, repo: str) -> Quoted:
        """The ``uses:`` value, comment included: the only unquoted text of a workflow, safe
        because every part is checked against :data:`_SHA` and :data:`_VERSION`."""
        return Quoted(f"{repo}@{self.sha}" + (f" # {self.version}" if self.version else ""))


# owner/repo -> the release in use (see the module docstring). Each commit is the one that
# Dependabot's bump to that version names (its compare link ends at it), and that public
# workflows pin with the same version comment.
PINS: dict[str, Pin] = {
    "actions/checkout": Pin("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": Pin("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": Pin("043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7.0.1"),
    "actions/download-artifact": Pin("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}

_SHA = re.compile(r"[0-9a-f]{40}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_PIN = re.compile(r"\s*(?P<sha>\S+)\s*(?:#\s*(?P<version>\S+)\s*)?")


def parse_pin(text: str) -> Pin | str:
    """A ``"<sha> # <version>"`` setting as a :class:`Pin`, or why it is not one."""
    match = _PIN.fullmatch(text)
    if match is None or not _SHA.fullmatch(match["sha"]):
        return f'"<40-hex commit SHA> # <version>", not {text!r}'
    version = match["version"]
    if version is not None and not _VERSION.fullmatch(version):
        return f"a version of letters, digits and . _ + - after the '#', not {version!r}"
    return Pin(match["sha"], version)


def pins_problem(value: Any) -> str | None:
    """Why ``[tool.stepc.gha] pins`` is not a table of pins for the actions stepc uses."""
    if not isinstance(value, dict):
        return f"a table of pins, not {value!r}"
    for repo, text in sorted(value.items()):
        if repo not in PINS:
            return f"a table keyed by the actions stepc uses ({', '.join(PINS)}), and {repo!r} is not one"
        found = parse_pin(text) if isinstance(text, str) else f"a string, not {text!r}"
        if isinstance(found, str):
            return f"a table of pins: {repo!r} needs {found}"
    return None


def pinned(overrides: dict[str, str]) -> dict[str, Quoted]:
    """owner/repo -> its ``uses:`` value, with the project's overrides (already checked)."""
    table = dict(PINS)
    for repo, text in overrides.items():
        found = parse_pin(text)
        if isinstance(found, Pin):
            table[repo] = found
    return {repo: pin.uses(repo) for repo, pin in table.items()}
