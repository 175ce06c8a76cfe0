"""What Argo and Kubernetes do to a container template's strings before the process sees
them, as far as the tests need it: Argo's template tags (found the way its template engine
finds them: from each ``{{`` to the next ``}}``, across the template's JSON text) and
Kubernetes' ``$(VAR)`` expansion of ``args`` and ``env`` values (``$$`` is a ``$``)."""

from __future__ import annotations

import json
import re
from typing import Any


def strings(node: Any) -> list[str]:
    """Every string of a document (keys too), depth first."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def tags(node: Any) -> list[str]:
    """The template tags Argo reads in ``node``: it marshals a template to JSON and replaces
    from each ``{{`` to the following ``}}``, so a tag may even span two strings."""
    text = json.dumps(node, ensure_ascii=False)
    found = []
    start = text.find("{{")
    while start != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            found.append(text[start:])  # Argo refuses the template: no end tag
            break
        found.append(text[start : end + 2])
        start = text.find("{{", end + 2)
    return found


_NAME = re.compile(r"\(([^)]*)\)")


def kube_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of ``$(VAR)`` in a container's command, args and env values:
    ``$$`` is ``$``; an undefined variable is left as written."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        after = text[i + 1]
        if after == "$":
            out.append("$")
            i += 2
            continue
        match = _NAME.match(text, i + 1) if after == "(" else None
        if match is not None:
            name = match.group(1)
            out.append(env.get(name, f"$({name})"))
            i = match.end()
            continue
        out.append("$" + after)
        i += 2
    return "".join(out)


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's env as the process sees it: each value expanded with those before it."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        env[entry["name"]] = kube_expand(entry["value"], env)
    return env


def container_args(container: dict[str, Any], substitutions: dict[str, str]) -> list[str]:
    """The container's args after Argo replaced ``substitutions`` (tag -> value) and
    Kubernetes expanded them."""
    env = container_env(container)
    args = []
    for arg in container["args"]:
        for tag, value in substitutions.items():
            arg = arg.replace(tag, value)
        args.append(kube_expand(arg, env))
    return args
