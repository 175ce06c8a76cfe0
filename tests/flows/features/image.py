"""A step that runs in an image of its own."""

from stepc import step


@step(outputs=["x"], image="python:3.11-slim")
def other():
    return 1
