"""A timeout."""

from stepc import step


@step(outputs=["x"], timeout="10m")
def slow():
    return 1
