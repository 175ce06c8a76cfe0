"""A `when` condition on a parameter."""

from stepc import step


@step(outputs=["x"], when="mode == 'full'")
def score(mode: str = "full"):
    return mode
