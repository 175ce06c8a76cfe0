"""Airflow fidelity: a step that succeeds on its second attempt, and a failing step whose
upstream's rollback runs. The journal parameter names a file both runs append to."""

from stepc import pipeline, step


def _note(journal, text):
    with open(journal, "a", encoding="utf-8") as f:
        f.write(text + "\n")


def _lines(journal):
    with open(journal, encoding="utf-8") as f:
        return f.read().splitlines()


def undo_prepare(prepared):
    _note(prepared["journal"], "undo prepare")


@step(outputs=["prepared"], rollback=undo_prepare)
def prepare(journal: str = "journal.txt"):
    _note(journal, "prepare")
    return {"journal": journal, "rows": [1, 2, 3]}


@step(inputs=["prepared"], outputs=["total"], retry={"times": 2, "delay": 0})
def flaky(prepared):
    """Fails on its first attempt only: the journal remembers the attempts."""
    _note(prepared["journal"], "flaky")
    if _lines(prepared["journal"]).count("flaky") < 2:
        raise RuntimeError("first attempt fails")
    return sum(prepared["rows"])


@step(inputs=["total", "prepared"], outputs=["checked"])
def check(total, prepared, fail: bool = False):
    if fail:
        raise ValueError("check failed on purpose")
    _note(prepared["journal"], "check")
    return {"total": total, "ok": True}


pipeline("retry-rollback", steps=[prepare, flaky, check])
