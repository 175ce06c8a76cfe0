"""a -> b -> c -> d; d fails; the rollbacks of c, b and a run in that order, b's fails."""

from stepc import pipeline, step


def _note(journal, text):
    with open(journal, "a") as f:
        f.write(text + "\n")


def undo_a(ra):
    _note(ra, "undo a")


def undo_b(rb):
    raise RuntimeError("cannot undo b")


def undo_c(rc):
    _note(rc["journal"], "undo c")


@step(outputs=["ra"], rollback=undo_a)
def a(journal: str = ""):
    _note(journal, "a")
    return journal


@step(inputs=["ra"], outputs=["rb"], rollback=undo_b)
def b(ra):
    _note(ra, "b")
    return ra


@step(inputs=["rb"], outputs=["rc"], rollback=undo_c)
def c(rb):
    _note(rb, "c")
    return {"journal": rb}


@step(inputs=["rc"], outputs=["rd"])
def d(rc, fail: bool = True):
    if fail:
        raise RuntimeError("d fails")
    return 1


pipeline("rollback", steps=[a, b, c, d])
