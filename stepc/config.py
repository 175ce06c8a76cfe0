"""``[tool.stepc]`` settings (SPEC §8) and the project root they come from."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_IMAGE = "python:3.12-slim"
DEFAULT_KILL_GRACE = 5.0  # seconds between an attempt's SIGTERM (its deadline) and its SIGKILL
# ``[tool.stepc] concurrency``: what a run started while another runs does (SPEC §8).
CONCURRENCY = ("allow", "forbid", "replace")
_CONFIG_FILES = ("stepc.toml", "pyproject.toml")


@dataclass(frozen=True)
class Config:
    """The settings in force for a flow file, and the directory they were found in."""

    root: Path | None
    settings: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None  # the stepc.toml or pyproject.toml read, for diagnostics about it

    @property
    def image(self) -> str:
        value = self.settings.get("image")
        return value if isinstance(value, str) and value else DEFAULT_IMAGE

    @property
    def branch(self) -> str | None:
        """``[tool.stepc] branch``: the branch of a ``@project`` flow's deployments (see
        :func:`deployed_branch`)."""
        value = self.settings.get("branch")
        return value if isinstance(value, str) and value else None

    @property
    def timezone(self) -> str | None:
        """``[tool.stepc] timezone``: the zone schedules are read in (engines default to UTC)."""
        value = self.settings.get("timezone")
        return value if isinstance(value, str) and value else None

    @property
    def kill_grace(self) -> float:
        """``[tool.stepc] kill_grace``: seconds a stopped attempt gets between SIGTERM and
        SIGKILL (a value :func:`grace_problem` rejects counts as the default)."""
        value = self.settings.get("kill_grace")
        return DEFAULT_KILL_GRACE if value is None or grace_problem(value) else float(value)

    @property
    def concurrency(self) -> str:
        """``[tool.stepc] concurrency``: whether runs of a pipeline may overlap (``allow``), a
        new one waits or is skipped (``forbid``, the default) or replaces the running one."""
        value = self.settings.get("concurrency")
        return value if value in CONCURRENCY else "forbid"

    def section(self, name: str) -> dict[str, Any]:
        value = self.settings.get(name, {})
        return value if isinstance(value, dict) else {}

    def relative(self, path: Path) -> str:
        """``path`` relative to the project root, with forward slashes (no absolute paths in output)."""
        resolved = path.resolve()
        if self.root is not None:
            try:
                return resolved.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return resolved.name


def grace_problem(value: Any) -> str | None:
    """Why ``value`` cannot be ``kill_grace`` (a number of seconds, 0 to 3600), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"a number of seconds, not {value!r}"
    if not 0 <= value <= 3600:  # NaN fails this too
        return f"between 0 and 3600 seconds, not {value!r}"
    return None


def deployed_branch(config: Config) -> str:
    """The branch a ``@project`` flow is deployed on by the compiled files: Metaflow's
    production branch ``prod`` (``prod.<branch>`` with ``[tool.stepc] branch``). Not Metaflow's
    ``user.<name>`` default, so that the same file comes out on every machine."""
    return f"prod.{config.branch}" if config.branch else "prod"


def find_config(start: Path) -> Config:
    """The nearest ``stepc.toml`` or ``pyproject.toml`` above ``start``; a file that cannot be
    parsed counts as no settings (``stepc check`` must not fail on someone else's file)."""
    directory = start.resolve()
    if not directory.is_dir():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        for name in _CONFIG_FILES:
            path = candidate / name
            if path.is_file():
                try:
                    data = tomllib.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                    data = {}
                if name == "stepc.toml":
                    return Config(candidate, data, path)
                return Config(candidate, data.get("tool", {}).get("stepc", {}), path)
    return Config(None, {})
