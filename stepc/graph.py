"""The pipeline DAG as a picture: Mermaid and Graphviz dot.

Foreach steps are drawn as stacked shapes and labelled with what they iterate over,
conditions label the step, and groups become subgraphs.
"""

from __future__ import annotations

import json

from stepc.ir import Pipeline, Step, condition_text


def _label(step: Step) -> list[str]:
    lines = [step.name]
    if step.foreach is not None:
        lines.append(f"foreach {step.foreach.name}")
    if step.when is not None:
        lines.append(f"when {condition_text(step.when)}")
    return lines


def _by_group(pipeline: Pipeline) -> tuple[list[Step], dict[str, list[Step]]]:
    loose: list[Step] = []
    groups: dict[str, list[Step]] = {}
    for step in pipeline.steps:
        if step.group is None:
            loose.append(step)
        else:
            groups.setdefault(step.group, []).append(step)
    return loose, groups


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(pipeline: Pipeline) -> str:
    lines = ["flowchart TD"]
    # Position-based ids: step names may hold characters Mermaid ids cannot.
    ids = {step.name: f"s{index}" for index, step in enumerate(pipeline.steps)}

    def node(step: Step, indent: str) -> str:
        label = "<br/>".join(_mermaid_text(part) for part in _label(step))
        shape = ('[["', '"]]') if step.foreach is not None else ('{{"', '"}}') if step.when else ('["', '"]')
        return f"{indent}{ids[step.name]}{shape[0]}{label}{shape[1]}"

    loose, groups = _by_group(pipeline)
    for step in loose:
        lines.append(node(step, "  "))
    for index, (group, members) in enumerate(sorted(groups.items())):
        lines.append(f'  subgraph g{index}["group: {_mermaid_text(group)}"]')
        lines.extend(node(step, "    ") for step in members)
        lines.append("  end")
    for edge in pipeline.edges:
        arrow = f'-->|"{_mermaid_text(edge.artifact)}"|' if edge.artifact else "-.->"
        lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def to_dot(pipeline: Pipeline) -> str:
    lines = [f"digraph {_dot_text(pipeline.name)} {{", "  rankdir=TB;", "  node [shape=box];"]

    def node(step: Step, indent: str) -> str:
        attrs = [f"label={_dot_text(chr(10).join(_label(step)))}"]
        if step.foreach is not None:
            attrs.append("shape=box3d")
        if step.when is not None:
            attrs.append("style=dashed")
        return f"{indent}{_dot_text(step.name)} [{', '.join(attrs)}];"

    loose, groups = _by_group(pipeline)
    lines.extend(node(step, "  ") for step in loose)
    for index, (group, members) in enumerate(sorted(groups.items())):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_text('group: ' + group)};")
        lines.extend(node(step, "    ") for step in members)
        lines.append("  }")
    for edge in pipeline.edges:
        style = f"label={_dot_text(edge.artifact)}" if edge.artifact else "style=dotted"
        lines.append(f"  {_dot_text(edge.source)} -> {_dot_text(edge.target)} [{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
