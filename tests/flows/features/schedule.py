"""A schedule."""

from stepc import pipeline, step


@step(outputs=["x"])
def nightly():
    return 1


pipeline("scheduled", steps=[nightly], schedule="0 3 * * *")
