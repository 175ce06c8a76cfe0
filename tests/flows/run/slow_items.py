"""A foreach of slow items, for killing the runner and resuming."""

import os
import time

from stepc import pipeline, step


@step(outputs=["items"])
def start(n: int = 8):
    return list(range(n))


@step(inputs=["items"], outputs=["doubled"], foreach="items")
def work(items, journal: str = "", pause: float = 0.3):
    with open(journal, "a") as f:
        f.write(f"start {items} {os.getpid()}\n")
    time.sleep(pause)
    with open(journal, "a") as f:
        f.write(f"end {items}\n")
    return items * 2


@step(inputs=["doubled"], outputs=["total"])
def join(doubled):
    return sum(doubled)


pipeline("slow-items", steps=[start, work, join])
