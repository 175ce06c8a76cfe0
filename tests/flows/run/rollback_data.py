"""A step keeps what its rollback needs with current.rollback_data; a later step fails."""

from stepc import current, pipeline, step


def undo_create(name: str, rollback_data: dict | None = None) -> None:
    with open(rollback_data["journal"], "a", encoding="utf-8") as f:
        f.write(f"undo {name} id={rollback_data['id']}\n")


def undo_plain(total: int, rollback_data: object = "unset") -> None:
    with open(total_journal(), "a", encoding="utf-8") as f:
        f.write(f"undo plain data={rollback_data!r}\n")


def total_journal() -> str:
    import os

    return os.environ["JOURNAL"]


@step(outputs=["name"], rollback=undo_create)
def create(journal: str) -> str:
    current.rollback_data({"id": 41, "journal": journal})
    current.rollback_data({"id": 42, "journal": journal})  # the last call wins
    return "bucket"


@step(inputs=["name"], outputs=["total"], rollback=undo_plain)
def plain(name: str) -> int:
    return len(name)


@step(inputs=["total"])
def boom(total: int) -> None:
    raise RuntimeError("boom fails")


@pipeline
def rollback_data(journal: str = "journal.txt") -> None:
    boom(plain(create(journal)))
