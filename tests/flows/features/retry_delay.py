"""A delay between retries."""

from stepc import step


@step(outputs=["x"], retry={"times": 2, "delay": 5})
def flaky():
    return 1
