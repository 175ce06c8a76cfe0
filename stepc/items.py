"""Item paths: which task of a step inside foreach scopes.

A step outside every foreach has one task (item ``None``). A step inside ``n`` nested foreach
scopes has one task per index path of length ``n``, outermost index first: ``(2,)`` is item 2
of a foreach, ``(1, 0)`` item 0 of the inner foreach run for item 1 of the outer one. Paths are
written ``1/0`` on command lines (``--item``), in the store (``items/1/0/``) and in messages.
"""

from __future__ import annotations

from typing import Any

ItemPath = tuple[int, ...]
Item = ItemPath | None


def item_text(item: Item) -> str:
    """``1/0`` for the path (1, 0); empty for no item."""
    return "" if item is None else "/".join(str(i) for i in item)


def parse_item(text: str) -> ItemPath:
    """The path written ``1/0`` (or ``3``); ValueError when it is not one."""
    parts = text.strip().split("/")
    if not text.strip() or not all(p.isdigit() for p in parts):
        raise ValueError(f"item {text!r} is not an index path such as 3 or 1/0")
    return tuple(int(p) for p in parts)


def item_from_json(value: Any) -> Item:
    """An item as JSON files and the run database hold it: null (or ""), its text ``1/0``, or
    a bare index (one level)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return (value,)
    return parse_item(str(value))


def item_to_json(item: Item) -> str | None:
    """The item as JSON files, control lines and the run database hold it: ``1/0`` or null."""
    return None if item is None else item_text(item)


def sort_key(item: Item) -> tuple[int, ...]:
    """Tasks in item order, the step's own task (no item) first."""
    return (-1,) if item is None else item
