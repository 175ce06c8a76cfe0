"""A chained map: a foreach over the results of a foreach step."""

from stepc import step


@step(outputs=["xs"])
def make():
    return [1, 2]


@step(inputs=["xs"], outputs=["ys"], foreach="xs")
def double(xs):
    return 2 * xs


@step(inputs=["ys"], outputs=["zs"], foreach="ys")
def increment(ys):
    return ys + 1
