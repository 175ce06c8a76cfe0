"""A bound on a run's tasks at once."""

from stepc import pipeline, step


@step(outputs=["x"])
def left():
    return 1


@step(outputs=["y"])
def right():
    return 2


pipeline("bounded", steps=[left, right], max_parallel=1)
