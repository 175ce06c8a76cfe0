"""Retries."""

from stepc import step


@step(outputs=["x"], retry=2)
def flaky():
    return 1
