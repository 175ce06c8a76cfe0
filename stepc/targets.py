"""The registry of compile targets: built-in and third-party backends, found through the
``stepc.backends`` entry-point group (SPEC §1), so a new target is one module, one template
folder and one entry point."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepc.backends.base import Backend

GROUP = "stepc.backends"


def available_targets() -> dict[str, str]:
    """Target name -> ``module:Class`` of every installed backend."""
    return {ep.name: ep.value for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name)}


def load_target(name: str) -> type[Backend]:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            backend: type[Backend] = ep.load()
            return backend
    raise KeyError(name)
