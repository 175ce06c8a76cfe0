"""A foreach over an upstream list."""

from stepc import step


@step(outputs=["xs"])
def make():
    return [1, 2]


@step(inputs=["xs"], outputs=["ys"], foreach="xs")
def double(xs):
    return 2 * xs
