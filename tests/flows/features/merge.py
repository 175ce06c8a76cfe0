"""An optional input: the consumer takes None when the producer has not run."""

from stepc import step


@step(outputs=["x"])
def make():
    return 1


@step(inputs=["x"], outputs=["y"])
def use(x=None):
    return x
