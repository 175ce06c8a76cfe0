"""A step's ``engine=`` and ``secrets=`` (``@engine(...)`` in the class dialect).

``engine`` maps target names to the settings of that engine the IR does not model (Argo
tolerations, an Airflow queue, a GitHub environment, ...). The front end checks the shape and
that each target exists; the keys and values are the target's to judge (its backend's table),
so each setting keeps the place its key is written, for a diagnostic there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import libcst as cst

from stepc.diagnostics import did_you_mean
from stepc.frontend.arguments import IDENTIFIER, ArgumentError, entry_node, read_str_list
from stepc.frontend.source import SourceFile
from stepc.ir import EngineSetting, Span, freeze

SpanOf = Callable[[cst.CSTNode], Span]
# (target, its settings, where the target is named, where its settings are written)
TargetEntry = tuple[str, Any, cst.CSTNode, cst.CSTNode]


def spans(source: SourceFile, file: str) -> SpanOf:
    """Where a node of ``source`` is written, as an IR span in ``file`` (a metadata pass, made
    only for flows whose steps have engine settings)."""

    def span_of(node: cst.CSTNode) -> Span:
        line, col, end = source.position(node)
        return Span(file, line, col, line, end or col + 1)

    return span_of


def known_targets() -> list[str]:
    """The installed targets (built-in and plug-in): a setting for another target is a typo."""
    from stepc.targets import available_targets  # entry points: read only for a step that sets engine=

    return sorted(available_targets())


def read_engine(value: Any, node: cst.CSTNode, span_of: SpanOf) -> tuple[EngineSetting, ...]:
    """``engine={"argo": {...}, "gha": {...}}`` of ``@step``."""
    if not isinstance(value, dict):
        raise ArgumentError(
            node, "S103", "engine must be a dict from target names to settings, e.g. engine={'argo': {...}}"
        )
    entries = [(t, v, entry_node(node, t, want_key=True), entry_node(node, t)) for t, v in value.items()]
    return read_targets(entries, span_of)


def read_targets(entries: Iterable[TargetEntry], span_of: SpanOf) -> tuple[EngineSetting, ...]:
    """The settings of each target, checked for shape; errors at the target or the key."""
    targets = known_targets()
    found: list[EngineSetting] = []
    for target, settings, target_node, settings_node in entries:
        if target not in targets:
            hint = did_you_mean(target, targets)
            message = f"unknown target '{target}' in engine settings{hint}; the targets are: {', '.join(targets)}"
            raise ArgumentError(target_node, "S101", message)
        if not isinstance(settings, dict):
            raise ArgumentError(settings_node, "S103", f"the {target} settings must be a dict of settings by name")
        for key, item in settings.items():
            found.append(
                EngineSetting(target, key, freeze(item), span_of(entry_node(settings_node, key, want_key=True)))
            )
    return tuple(found)


def read_secrets(value: Any, node: cst.CSTNode, env: Iterable[tuple[str, str]] = ()) -> tuple[str, ...]:
    """``secrets=["API_TOKEN", ...]``: environment variable names (they also name the secret in
    the engine's store, and reach the engines' expression languages, so nothing else passes)."""
    names = read_str_list(value, node, "secrets")
    in_env = {k for k, _ in env}
    seen: set[str] = set()
    for name, where in names:
        if not IDENTIFIER.match(name):
            message = f"secret name {name!r} is not an environment variable name (letters, digits and '_')"
            raise ArgumentError(where, "S103", message)
        if name in seen:
            raise ArgumentError(where, "S106", f"secrets lists {name!r} twice")
        if name in in_env:
            raise ArgumentError(where, "S103", f"secret {name!r} is also set by env=: the step would get two values")
        seen.add(name)
    return tuple(sorted(seen))
