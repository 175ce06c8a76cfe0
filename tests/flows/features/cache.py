"""Caching."""

from stepc import step


@step(outputs=["x"], cache="code_hash")
def load():
    return 1
