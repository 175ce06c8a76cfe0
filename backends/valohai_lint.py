"""stepc's own check of a generated valohai.yaml (the tests also run valohai-yaml's lint): names
without dots and within Valohai's lengths, unique steps and nodes, edges and parameter targets
that name real nodes, and edges without a cycle."""

from __future__ import annotations

from typing import Any

import yaml

from stepc import graphs

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# valohai-yaml's schema (0.61): an input's name and an upload store hold at most 64 characters.
NAME_LIMIT = 64


def _too_long(step: dict[str, Any]) -> list[str]:
    names = [("input", i.get("name")) for i in step.get("inputs") or [] if isinstance(i, dict)]
    names.append(("upload-store", step.get("upload-store")))
    return [
        f"step {step.get('name')!r}: {kind} name {name!r} is longer than Valohai's {NAME_LIMIT} characters"
        for kind, name in names
        if isinstance(name, str) and len(name) > NAME_LIMIT
    ]


def lint_config(text: str) -> list[str]:
    """Every problem found; empty when clean."""
    try:
        items = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        return [f"not valid YAML: {exc}"]
    if not isinstance(items, list):
        return ["a valohai.yaml is a list of steps and pipelines"]
    problems: list[str] = []
    steps = [i["step"]["name"] for i in items if isinstance(i, dict) and "step" in i]
    known_steps = set(steps)
    if len(known_steps) != len(steps):
        problems.append("step names are not unique")
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("step"), dict):
            problems.extend(_too_long(item["step"]))
    for item in items:
        pipeline = item.get("pipeline") if isinstance(item, dict) else None
        if not pipeline:
            continue
        nodes = [n["name"] for n in pipeline.get("nodes") or []]
        known_nodes = set(nodes)
        if len(known_nodes) != len(nodes):
            problems.append("node names are not unique")
        for node in pipeline.get("nodes") or []:
            if "." in node["name"]:
                problems.append(f"node name {node['name']!r} contains a dot")
            if node["step"] not in known_steps:
                problems.append(f"node {node['name']!r} runs unknown step {node['step']!r}")
        sockets = [s for edge in pipeline.get("edges") or [] for s in edge]
        sockets += [t for p in pipeline.get("parameters") or [] for t in p.get("targets", [])]
        for socket in sockets:
            if socket.split(".", 2)[0] not in known_nodes:
                problems.append(f"{socket!r} names an unknown node")
        after: dict[str, list[str]] = {name: [] for name in nodes}
        for edge in pipeline.get("edges") or []:
            ends = [str(socket).split(".", 1)[0] for socket in edge]
            if len(ends) == 2:
                after.setdefault(ends[0], []).append(ends[1])
        cycle = graphs.find_cycle(after, nodes)
        if cycle:
            problems.append(f"nodes form a cycle through edges: {' -> '.join(cycle)}")
    return problems
