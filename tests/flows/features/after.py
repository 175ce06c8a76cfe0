"""An ordering edge without data (after=)."""

from stepc import step


@step
def first():
    pass


@step(after=["first"])
def second():
    pass
