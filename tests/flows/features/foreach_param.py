"""A foreach over a list parameter."""

from stepc import step


@step(outputs=["ys"], foreach="xs")
def double(xs: list = [1, 2]):  # noqa: B006 - a parameter default, read statically
    return 2 * xs
