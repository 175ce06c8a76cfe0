"""Where a flow's own modules are found: the flow's folder, then the project root.

The front end resolves ``from steps import clean`` against these folders without importing
anything, and ``stepc exec`` puts the same folders, in the same order, on ``sys.path`` before it
imports the flow; so a name the checker followed is the module the engines run. Kept free of
libcst: the runtime imports it.
"""

from __future__ import annotations

import re
from pathlib import Path

from stepc.config import find_config

# A relative import at the start of a line: the flow must then be imported as a module of its
# package (a false hit in a docstring only changes the name the flow is imported under).
_RELATIVE_IMPORT = re.compile(r"^[ \t]*from[ \t]+\.", re.M)


def project_root(flow_path: Path) -> Path:
    """The folder of the nearest ``stepc.toml``/``pyproject.toml``, or the flow's own folder."""
    config = find_config(flow_path.resolve().parent)
    return config.root if config.root is not None else flow_path.resolve().parent


def search_roots(flow_path: Path, root: Path | None = None) -> tuple[Path, ...]:
    """The folders absolute imports of the flow's own modules are looked up in, in order: the
    flow's folder, then the project root (``root``, found when not given)."""
    folder = flow_path.resolve().parent
    root = (root or project_root(flow_path)).resolve()
    return (folder,) if root == folder else (folder, root)


def package_of(folder: Path, root: Path) -> str | None:
    """The dotted package a module in ``folder`` belongs to, seen from ``root``; None at the root
    itself, outside it, or when a folder name is not an identifier (no import can name it)."""
    try:
        parts = folder.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return None
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def flow_package(flow_path: Path, text: str) -> str | None:
    """The package a flow that imports relatively is a module of (``from .steps import clean``
    in ``pkg/flow.py``: ``pkg``), None for a flow that does not, or that sits at the root."""
    if _RELATIVE_IMPORT.search(text) is None:
        return None
    return package_of(flow_path.resolve().parent, project_root(flow_path))
