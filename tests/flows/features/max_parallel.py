"""A bound on a fan-out's items at once."""

from stepc import step


@step(outputs=["xs"])
def make():
    return [1, 2, 3]


@step(inputs=["xs"], outputs=["ys"], foreach="xs", max_parallel=2)
def double(xs):
    return 2 * xs
