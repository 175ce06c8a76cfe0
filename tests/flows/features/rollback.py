"""A rollback function."""

from stepc import step


def undo(x):
    pass


@step(outputs=["x"], rollback="undo")
def publish():
    return 1
