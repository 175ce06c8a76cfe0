"""What a class-dialect step is given: its bound inputs loaded, and a join's ``inputs``.

A join sees, for a foreach, one view per item (that item's artifacts and those from before the
split) and, for a static fan-out, one view per predecessor (IR ``Input.views``), also reachable
as ``inputs.<step>``. Every value keeps its content hash, which ``merge_artifacts`` compares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stepc.runtime.plan import BoundInput, Task
from stepc.runtime.store import Store

# --- the inputs of a join -----------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """An input value with its content hash (``merge_artifacts`` compares hashes, not values)."""

    value: Any
    digest: str


class View:
    """One entry of a join's ``inputs``: a branch's (or a foreach item's) artifacts as attributes."""

    def __init__(self, step: str, artifacts: Mapping[str, Artifact]) -> None:
        self._stepc_step = step
        self._stepc_artifacts = dict(artifacts)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_stepc_"):  # not set yet (copy, unpickling): never recurse
            raise AttributeError(name)
        try:
            return self._stepc_artifacts[name].value
        except KeyError:
            raise AttributeError(f"the input from step '{self._stepc_step}' has no artifact '{name}'") from None

    def __dir__(self) -> list[str]:
        return sorted(self._stepc_artifacts)

    def __repr__(self) -> str:
        return f"<inputs from step '{self._stepc_step}': {', '.join(sorted(self._stepc_artifacts)) or 'no artifacts'}>"


class Inputs:
    """The ``inputs`` of a join step: iterable, indexable, sized, and by step name
    (``inputs.train``; in a foreach join every view has the same step: the last one answers)."""

    def __init__(self, views: list[View]) -> None:
        self._views = list(views)
        self._by_step = {view._stepc_step: view for view in self._views}

    def __iter__(self) -> Iterator[View]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> View:
        return self._views[index]

    def __getattr__(self, name: str) -> View:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_step[name]
        except KeyError:
            raise AttributeError(f"no input from step '{name}' (inputs: {', '.join(self._by_step)})") from None

    def __repr__(self) -> str:
        return f"<inputs: {len(self._views)} from {', '.join(self._by_step) or 'nothing'}>"


# --- loading ------------------------------------------------------------------------------

# One entry per BoundInput: an Artifact, None when absent, or (gather) a list of those per item.
Loaded = Artifact | list[Artifact | None] | None


def load_bound(store: Store, bound: BoundInput) -> Loaded:
    """Read one bound input; an item input loads its whole list (the item is ``self.input``)."""
    if bound.mode == "none":
        return None
    if bound.mode == "gather":
        count = len(bound.artifacts) + len(bound.absent)
        metas = iter(bound.artifacts)
        absent = set(bound.absent)
        items: list[Artifact | None] = []
        for k in range(count):
            if k in absent:
                items.append(None)
            else:
                meta = next(metas)
                items.append(Artifact(store.read_artifact(meta), meta.sha256))
        return items
    meta = bound.artifacts[0]
    return Artifact(store.read_artifact(meta), meta.sha256)


def join_inputs(task: Task, loaded: list[Loaded]) -> Inputs:
    """Views for a join: per item when it gathers a foreach's results, else per predecessor."""
    gathered = [(b, v) for b, v in zip(task.inputs, loaded, strict=True) if b.mode == "gather"]
    if gathered:
        count = max(len(v) for _, v in gathered if isinstance(v, list))
        shared = {
            b.name: v
            for b, v in zip(task.inputs, loaded, strict=True)
            if b.mode != "gather" and isinstance(v, Artifact)
        }
        views = []
        for k in range(count):
            artifacts = dict(shared)
            for b, v in gathered:
                item = v[k] if isinstance(v, list) and k < len(v) else None
                if item is not None:  # an item that did not set it: absent from this view
                    artifacts[b.name] = item
            views.append(View(gathered[0][0].producer, artifacts))
        return Inputs(views)
    by_step: dict[str, dict[str, Artifact]] = {name: {} for name in task.branches}
    for b, v in zip(task.inputs, loaded, strict=True):
        for name in b.views or (b.producer,):
            view = by_step.setdefault(name, {})
            if isinstance(v, Artifact):
                view[b.name] = v
    return Inputs([View(name, artifacts) for name, artifacts in by_step.items()])
