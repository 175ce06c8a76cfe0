"""The one builder of ``stepc exec`` command lines (a task, a fused group, an item, a rollback).

Every target starts its tasks with ``python -m stepc exec``; what varies is how it spells each
value (a literal, an Argo placeholder, a shell variable) and the order its generated files have
always had. A target fills an :class:`ExecCall` with its spellings and renders it with its
order table; the flag names and the shape of the line live here only (see
``stepc.commands.run.exec_step`` for the other end).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Field -> its flag; "flow" is the positional argument and comes first, always.
FLAGS: dict[str, str] = {
    "rollback": "--rollback",
    "steps": "--step",
    "items_of": "--items-of",
    "pipeline": "--pipeline",
    "run_id": "--run-id",
    "store": "--store",
    "params": "--params",
    "assignments": "-p",
    "raw": "",
    "item": "--item",
    "iteration": "--iteration",
    "retry": "--retry",
    "foreach_out": "--foreach-out",
    "values_out": "--values-out",
}


@dataclass(frozen=True)
class ExecCall:
    """One ``stepc exec`` call, each value spelled as the target passes it (already quoted
    for a shell where the target runs one). Unset values are left out of the line."""

    python: str
    flow: str
    pipeline: str
    steps: tuple[str, ...] = ()  # several for a fused group; none with ``rollback``
    rollback: bool = False
    items_of: str | None = None  # a lister: the nested foreach whose item paths it publishes
    run_id: str | None = None
    store: str | None = None
    params: str | None = None  # ``--params JSON``
    assignments: tuple[str, ...] = ()  # ``-p name=value``, each ``name=value``
    raw: tuple[str, ...] = ()  # words the engine expands into arguments itself (Valohai's ``{parameters}``)
    item: str | None = None  # the item of a fan-out
    iteration: str | None = None  # the pass of a recursive switch
    retry: bool = False  # ``--retry``: run the step's retry policy inside this one call
    foreach_out: str | None = None  # where to write the item lists a fan-out reads
    values_out: str | None = None  # where to write the values a condition reads

    def words(self, name: str) -> list[str]:
        """The arguments of one field (empty when unset)."""
        flag = FLAGS[name]
        value = getattr(self, name)
        if isinstance(value, bool):
            return [flag] if value else []
        if isinstance(value, tuple):
            return [w for v in value for w in ((flag, v) if flag else (v,))]
        return [flag, value] if value is not None else []

    def argv(self, order: Iterable[str]) -> list[str]:
        """The command line, fields in ``order`` (the target's table); a set field missing
        from ``order`` is a bug in the target."""
        order = tuple(order)
        missing = [n for n in FLAGS if n not in order and self.words(n)]
        assert not missing, f"the order table leaves out {missing}"
        argv = [self.python, "-m", "stepc", "exec", self.flow]
        for name in order:
            argv += self.words(name)
        return argv


def shell_line(words: Iterable[str]) -> str:
    """Words already quoted for the shell, as one line."""
    return " ".join(words)
