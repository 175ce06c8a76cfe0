"""A step group: two steps run back to back as one task."""

from stepc import step


@step(outputs=["x"], group="ingest")
def fetch():
    return 1


@step(inputs=["x"], outputs=["y"], group="ingest")
def parse(x):
    return x
