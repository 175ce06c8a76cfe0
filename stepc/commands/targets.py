"""``stepc targets``: the installed backends and what each can express."""

from __future__ import annotations

import click


@click.command()
def targets() -> None:
    """List the compile targets (built-in and installed plugins) and the features each expresses."""
    from stepc.backends.base import FEATURE_TEXT
    from stepc.targets import available_targets, load_target

    loaded = {}
    for name, reference in available_targets().items():
        try:
            loaded[name] = load_target(name)
        except Exception as exc:  # a broken plugin must not hide the others
            click.echo(f"{name}: cannot be loaded from {reference}: {type(exc).__name__}: {exc}")
            continue
        click.echo(f"{name:<10} {loaded[name].DESCRIPTION}  [{reference}]")
    width = max(len(text) for text in FEATURE_TEXT.values())
    click.echo("")
    click.echo((f"{'feature':<{width}}  " + "  ".join(f"{name:<8}" for name in loaded)).rstrip())
    for feature, text in FEATURE_TEXT.items():
        marks = "  ".join(f"{'yes' if feature in b.FEATURES else '-':<8}" for b in loaded.values())
        click.echo(f"{text:<{width}}  {marks}".rstrip())
