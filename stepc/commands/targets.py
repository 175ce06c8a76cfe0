"""``stepc targets``: the installed backends and what each can express, from their tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from stepc.backends.base import Backend


def support_table(backends: dict[str, type[Backend]]) -> list[str]:
    """One line per feature: its text, then yes / partial / no per target (built-in or plugin)."""
    from stepc.backends.features import FEATURE_TEXT

    width = max(len(text) for text in FEATURE_TEXT.values())
    columns = {name: max(len("partial"), len(name)) for name in backends}
    lines = [(f"{'feature':<{width}}  " + "  ".join(f"{name:<{columns[name]}}" for name in backends)).rstrip()]
    for feature, text in FEATURE_TEXT.items():
        marks = "  ".join(f"{b.support(feature):<{columns[name]}}" for name, b in backends.items())
        lines.append(f"{text:<{width}}  {marks}".rstrip())
    return lines


def partial_notes(backends: dict[str, type[Backend]]) -> list[str]:
    """What each target does instead, for every feature it supports in part."""
    from stepc.backends.features import FEATURE_TEXT

    lines = []
    for name, backend in backends.items():
        for feature, text in FEATURE_TEXT.items():
            if backend.support(feature) == "partial":
                lines.append(f"  {name}: {text}: {backend.PARTIAL[feature]}")
    return lines


def support_markdown(backends: dict[str, type[Backend]]) -> str:
    """The same table for the README, with each partial note under it."""
    from stepc.backends.features import FEATURE_TEXT

    rows = ["| feature | " + " | ".join(backends) + " |", "|---" * (len(backends) + 1) + "|"]
    for feature, text in FEATURE_TEXT.items():
        rows.append(f"| {text} | " + " | ".join(b.support(feature) for b in backends.values()) + " |")
    notes = [f"- {name}, {FEATURE_TEXT[f]}: {b.PARTIAL[f]}" for name, b in backends.items()
             for f in FEATURE_TEXT if b.support(f) == "partial"]  # fmt: skip
    return "\n".join(rows) + "\n\nPartial support, and what the engine does instead:\n\n" + "\n".join(notes) + "\n"


@click.command()
def targets() -> None:
    """List the compile targets (built-in and installed plugins) and, per feature, whether each
    expresses it (yes), compiles it with a T101 warning (partial), or refuses it (no)."""
    from stepc.targets import available_targets, load_target

    loaded = {}
    for name, reference in available_targets().items():
        try:
            loaded[name] = load_target(name)
        except Exception as exc:  # a broken plugin must not hide the others
            click.echo(f"{name}: cannot be loaded from {reference}: {type(exc).__name__}: {exc}")
            continue
        click.echo(f"{name:<10} {loaded[name].DESCRIPTION}  [{reference}]")
    click.echo("")
    for line in support_table(loaded):
        click.echo(line)
    notes = partial_notes(loaded)
    if notes:
        click.echo("")
        click.echo("partial: compiled with a T101 warning (an error under `stepc compile --strict`):")
        for line in notes:
            click.echo(line)
