"""stepc's own check of a generated workflow: what actionlint and the schema would say about
the parts stepc controls, run before anything is written (the real tools run in the tests).

It checks job ids (valid, unique ignoring case), ``needs`` (known jobs, no cycle), matrix
settings, and the injection rule: no ``${{`` inside any ``run:`` script.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from stepc import graphs

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
MAX_INPUTS = 25


def load_workflow(text: str) -> dict[str, Any]:
    """The workflow as data; PyYAML reads a bare ``on:`` key as True, so it is put back."""
    data = yaml.load(text, Loader=_LOADER)
    if isinstance(data, dict) and True in data:
        data["on"] = data.pop(True)
    if not isinstance(data, dict):
        raise ValueError("a workflow is a mapping")
    return data


def lint_workflow(text: str) -> list[str]:
    """Every problem found; empty when clean."""
    try:
        workflow = load_workflow(text)
    except (yaml.YAMLError, ValueError) as exc:
        return [f"not a valid workflow: {exc}"]
    problems: list[str] = []
    inputs = (workflow.get("on") or {}).get("workflow_dispatch", {}) or {}
    if len(inputs.get("inputs") or {}) > MAX_INPUTS:
        problems.append(f"workflow_dispatch has more than {MAX_INPUTS} inputs")
    jobs = workflow.get("jobs") or {}
    folded: dict[str, str] = {}
    for job_id in jobs:
        if not JOB_ID.match(str(job_id)):
            problems.append(f"job id {job_id!r} is not [A-Za-z_][A-Za-z0-9_-]*")
        if str(job_id).lower() in folded:
            problems.append(f"job ids {folded[str(job_id).lower()]!r} and {job_id!r} differ only in case")
        folded[str(job_id).lower()] = str(job_id)
    edges: dict[str, list[str]] = {}
    for job_id, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else list(needs)
        for need in needs:
            if need not in jobs:
                problems.append(f"job {job_id!r} needs unknown job {need!r}")
        edges[job_id] = needs
        strategy = job.get("strategy") or {}
        if "matrix" in strategy and strategy.get("fail-fast") is not False:
            problems.append(f"job {job_id!r}: a fan-out must not cancel its other legs (fail-fast: false)")
        for step in job.get("steps", []):
            script = step.get("run")
            if isinstance(script, str) and "${{" in script:
                problems.append(f"job {job_id!r}: a run script contains an expression: {step.get('name')!r}")
    cycle = graphs.find_cycle(edges, sorted(edges))
    if cycle:
        problems.append(f"jobs form a cycle through `needs`: {' -> '.join(cycle)}")
    return problems
