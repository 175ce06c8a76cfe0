"""Foreach, chained maps, joins, conditions, optional inputs, ordering edges and a group."""

import os

from stepc import pipeline, step


@step(outputs=["nums"])
def make(n: int = 4):
    return list(range(n))


@step(inputs=["nums"], outputs=["squared"], foreach="nums")
def square(nums):
    print(f"squaring {nums}")
    return nums * nums


@step(inputs=["squared"], outputs=["plus"], foreach="squared")
def plus_one(squared):
    return squared + 1


@step(inputs=["plus"], outputs=["total"])
def total(plus):
    return {"items": plus, "sum": sum(plus)}


@step(outputs=["labels"], foreach="names")
def label(names: list = ["a", "b", "c"]):  # noqa: B006 - the dialect reads it statically
    return names.upper()


@step(outputs=["extra"], when="flag == True")
def maybe(flag: bool = False):
    return "extra!"


@step(inputs=["extra"], outputs=["dep"])
def needs_extra(extra):
    return extra + "?"


@step(inputs=["total", "extra", "labels"], outputs=["final"])
def final(total, labels, extra=None):
    return {"total": total["sum"], "extra": extra, "labels": labels}


@step(outputs=["a"], group="g")
def g1():
    return os.getpid()


@step(inputs=["a"], outputs=["b"], group="g")
def g2(a):
    return [a, os.getpid()]


@step(after=["final"], outputs=["last"])
def last():
    return "done"


pipeline(
    "semantics",
    steps=[make, square, plus_one, total, label, maybe, needs_extra, final, g1, g2, last],
)
