"""A backoff factor on the delay between retries."""

from stepc import step


@step(outputs=["x"], retry={"times": 2, "delay": 5, "backoff": 2})
def flaky():
    return 1
