"""What the GitHub Actions workflow template renders: jobs, their steps and matrices, and the
dispatch inputs with the table the parameters job resolves them with."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stepc.ir import Pipeline, thaw
from stepc.params import nullable

from .naming import NameRule, assign_names

JOB_ID = NameRule(
    64,
    re.compile(r"[^A-Za-z0-9_-]"),
    lower=False,
    start=re.compile(r"[A-Za-z_]"),
    strip="-",
    case_insensitive=True,
)
INPUT_TYPES = {"int": "number", "float": "number", "bool": "boolean"}


@dataclass(frozen=True)
class RunView:
    """One step of a job: `stepc exec` for one IR step, then what it publishes."""

    id: str
    name: str
    env: list[tuple[str, str]]
    feeds: dict[str, str]  # job output key -> the artifact whose item indices it publishes
    script: str
    secrets: tuple[str, ...] = ()  # set from GitHub's secrets in this step only (not checkout or install)


@dataclass(frozen=True)
class MatrixView:
    """Where a fan-out job's matrix comes from: a job (``source``) and its output (``ref``);
    ``nested``: a lister's index paths, each entry ``{"path": "1/0", "key": "1-0"}``."""

    source: str
    ref: str
    nested: bool = False


@dataclass(frozen=True)
class JobView:
    """One job: a unit's (``kind`` "step") or the rollback job."""

    kind: str
    id: str
    name: str
    needs: list[str]
    guard: str  # the job's `if:`
    runs_on: str | list[str]
    environment: str | None = None
    container: str | None = None
    timeout: int | None = None
    matrix: str | None = None
    max_parallel: int | None = None  # strategy.max-parallel: the most legs of the matrix at once
    outputs: list[tuple[str, str]] = field(default_factory=list)
    item: str | None = None
    downloads: list[str] = field(default_factory=list)
    runs: list[RunView] = field(default_factory=list)
    artifact: str = ""
    paths: str = ""


def dispatch_inputs(pipeline: Pipeline, json_input: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The dispatch inputs, and the table the parameters job resolves them with."""
    if json_input:
        defaults = {p.name: thaw(p.default) for p in pipeline.params if not p.required}
        text = json.dumps(defaults, sort_keys=True, ensure_ascii=False)
        usable = "${{" not in text
        single = {
            "id": "params",
            "description": "pipeline parameters as one JSON object (missing ones take their defaults)",
            "type": "string",
            "required": False,
            "default": text if usable else None,
        }
        spec_params = [
            {"name": p.name, "input": p.name, "type": p.type, "required": p.required}
            | ({} if p.required else {"default": thaw(p.default)})
            for p in pipeline.params
        ]
        return [single], {"json_input": "params", "params": spec_params}
    ids = assign_names([p.name for p in pipeline.params], JOB_ID)
    inputs, spec_params = [], []
    for p in pipeline.params:
        default = None if p.required else thaw(p.default)
        shown: Any = default
        if p.type in ("list", "dict") and default is not None:
            shown = json.dumps(default, sort_keys=True, ensure_ascii=False)
        # An input default is static text to GitHub: one holding `${{` cannot be shown, so
        # the input is left empty and the parameters job fills the default in.
        hidden = isinstance(shown, str) and "${{" in shown
        label = p.description or f"{p.type} parameter"
        if ids[p.name] != p.name:
            label = f"{label} ({p.name})"
        inputs.append(
            {
                "id": ids[p.name],
                "description": label + (" (empty: the flow's default)" if hidden else ""),
                # A boolean input is a checkbox, never unset: a bool that may stay None
                # is text (true, false, or empty).
                "type": "string" if p.type == "bool" and nullable(p) else INPUT_TYPES.get(p.type, "string"),
                "required": p.required,
                "default": None if hidden else shown,
            }
        )
        entry: dict[str, Any] = {"name": p.name, "input": ids[p.name], "type": p.type, "required": p.required}
        if not p.required:
            entry["default"] = default
        # A dispatch form cannot leave a field unset, only empty: for a parameter whose
        # default is None, empty is that None (an explicit "" needs the JSON input).
        if hidden or nullable(p):
            entry["empty_is_default"] = True
        spec_params.append(entry)
    return inputs, {"json_input": None, "params": spec_params}
