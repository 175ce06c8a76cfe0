"""stepc's own Argo lint: what the JSON schema cannot check (names, references, cycles,
retry policies, loop sources). Runs on the generated text before it is written."""

from __future__ import annotations

import re
from typing import Any

import yaml

from stepc import graphs

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RETRY_POLICIES = {"Always", "OnFailure", "OnError", "OnTransientError"}
NAME_LIMITS = {"Workflow": 63, "WorkflowTemplate": 63, "CronWorkflow": 52}
_DEPENDS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z]+)?")
_OUTPUT_REF = re.compile(r"tasks\.([A-Za-z0-9-]+)\.outputs\.parameters\.([A-Za-z0-9_-]+)")


def lint_documents(text: str) -> list[str]:
    """Every problem found in a multi-document Argo YAML text; empty when clean."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        return [f"not valid YAML: {exc}"]
    problems: list[str] = []
    templates_defined = {d["metadata"].get("name") for d in documents if d.get("kind") == "WorkflowTemplate"}
    for document in documents:
        problems.extend(_lint_document(document, templates_defined))
        problems.extend(_lint_tags(document))
    return problems


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _lint_tags(document: dict[str, Any]) -> list[str]:
    """Every template tag opens and closes in one string, with no ``{{`` inside: Argo reads from
    a ``{{`` to the next ``}}`` over the template's JSON text, so an unclosed one would reach
    into the strings after it (or make Argo refuse the template)."""
    problems = []
    for text in _strings(document):
        start = text.find("{{")
        while start != -1:
            end = text.find("}}", start + 2)
            inner = text.find("{{", start + 2)
            if end == -1 or (inner != -1 and inner < end):
                problems.append(f"template tag not closed in its string: {text[start : start + 60]!r}")
                break
            start = text.find("{{", end + 2)
    return problems


def _lint_document(document: dict[str, Any], workflow_templates: set[str]) -> list[str]:
    kind = document.get("kind", "")
    meta = document.get("metadata", {})
    problems = []
    name = meta.get("name") or meta.get("generateName", "").rstrip("-")
    limit = NAME_LIMITS.get(kind, 63) - (5 if "generateName" in meta else 0)
    if not DNS_1123_SUBDOMAIN.match(name or "") or len(name) > limit:
        problems.append(f"{kind} name {name!r} is not a DNS-1123 name of at most {limit} characters")
    if kind == "CronWorkflow":
        spec = document.get("spec", {})
        if "schedule" in spec or not spec.get("schedules"):
            problems.append("a CronWorkflow needs a `schedules` list (Argo 4 rejects `schedule`)")
        ref = spec.get("workflowSpec", {}).get("workflowTemplateRef", {}).get("name")
        if ref not in workflow_templates:
            problems.append(f"CronWorkflow refers to WorkflowTemplate {ref!r}, which this file does not define")
        return problems
    spec = document.get("spec", {})
    templates = spec.get("templates", [])
    names = [t.get("name", "") for t in templates]
    for template_name in names:
        if not DNS_1123_LABEL.match(template_name) or len(template_name) > 63:
            problems.append(f"template name {template_name!r} must be [a-z0-9-], at most 63 characters")
    if len(set(names)) != len(names):
        problems.append("template names are not unique")
    for ref in (spec.get("entrypoint"), spec.get("onExit")):
        if ref is not None and ref not in names:
            problems.append(f"spec refers to template {ref!r}, which is not defined")
    for param in spec.get("arguments", {}).get("parameters", []):
        # Argo refuses a workflow whose parameter value is outside the parameter's enum.
        if "enum" in param and "value" in param and param["value"] not in param["enum"]:
            problems.append(f"parameter {param.get('name')!r}: value {param['value']!r} is not one of its enum")
    defined = set(names)
    outputs = {
        str(t.get("name")): {p.get("name") for p in (t.get("outputs") or {}).get("parameters", [])} for t in templates
    }
    for template in templates:
        problems.extend(_lint_template(template, defined))
        problems.extend(_lint_output_refs(template, outputs))
    return problems


def _lint_output_refs(template: dict[str, Any], outputs: dict[str, set[str]]) -> list[str]:
    """A task reading ``tasks.X.outputs.parameters.Y`` (in ``when``, ``withParam`` or its
    arguments) must depend on X directly, and X's template must declare the output Y: else
    Argo fails the workflow at that task, not at submission."""
    problems = []
    tasks = template.get("dag", {}).get("tasks", [])
    template_of: dict[str, str] = {str(t.get("name")): str(t.get("template")) for t in tasks}
    for task in tasks:
        label = task.get("name")
        needed = {m.split(".")[0] for m in _DEPENDS_NAME.findall(task.get("depends", "") or "")}
        needed |= set(task.get("dependencies", []))
        read = " ".join(str(task.get(k, "")) for k in ("when", "withParam")) + " " + str(task.get("arguments", ""))
        for source, name in _OUTPUT_REF.findall(read):
            if source not in needed:
                problems.append(f"task {label!r} reads an output of {source!r} without depending on it")
            elif name not in outputs.get(template_of.get(source, ""), set()):
                problems.append(f"task {label!r} reads output {name!r}, which task {source!r} does not declare")
    return problems


def _lint_template(template: dict[str, Any], template_names: set[str]) -> list[str]:
    problems = []
    policy = template.get("retryStrategy", {}).get("retryPolicy")
    if policy is not None and policy not in RETRY_POLICIES:
        problems.append(
            f"template {template.get('name')!r}: retryPolicy {policy!r} is not one of {sorted(RETRY_POLICIES)}"
        )
    for group in template.get("steps", []):
        for step in group:
            if step.get("template") not in template_names:
                problems.append(f"step {step.get('name')!r} refers to undefined template {step.get('template')!r}")
    tasks = template.get("dag", {}).get("tasks", [])
    task_names = [t.get("name", "") for t in tasks]
    known = set(task_names)
    if len(known) != len(task_names):
        problems.append(f"template {template.get('name')!r}: task names are not unique")
    edges: dict[str, set[str]] = {}
    for task in tasks:
        label = task.get("name")
        if not DNS_1123_LABEL.match(label or ""):
            problems.append(f"task name {label!r} must be [a-z0-9-]")
        if task.get("template") not in template_names:
            problems.append(f"task {label!r} refers to undefined template {task.get('template')!r}")
        if "depends" in task and "dependencies" in task:
            problems.append(f"task {label!r} mixes `depends` and `dependencies`")
        loops = [k for k in ("withItems", "withParam", "withSequence") if k in task]
        if len(loops) > 1:
            problems.append(f"task {label!r} has more than one loop source: {loops}")
        needed = set(task.get("dependencies", []))
        needed |= {m.split(".")[0] for m in _DEPENDS_NAME.findall(task.get("depends", "") or "")}
        for dependency in sorted(needed):
            if dependency not in known:
                problems.append(f"task {label!r} depends on unknown task {dependency!r}")
        edges[label] = needed
    cycle = graphs.find_cycle({name: sorted(needed) for name, needed in edges.items()}, sorted(edges))
    if cycle:
        problems.append(f"tasks form a cycle: {' -> '.join(cycle)}")
    return problems
