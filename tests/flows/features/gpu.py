"""A GPU."""

from stepc import step


@step(outputs=["x"], resources={"gpu": 1})
def train():
    return 1
