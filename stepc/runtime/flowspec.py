"""Running a step of the class dialect (Metaflow style): a method of a FlowSpec subclass.

The IR says what a method reads and writes (``Step.inputs``/``Step.outputs``), so the runtime
needs no Metaflow machinery: it makes an instance without calling ``__init__``, sets the
step's parameters and input artifacts as attributes, calls the method and reads the outputs
back from the instance. ``self.next(...)`` is a no-op here (the graph is already in the IR).

* a foreach step sees the whole list as its attribute, ``self.input`` (its item) and
  ``self.index``;
* a join step (a method taking ``inputs``) gets ``inputs``: one view per foreach item, or per
  branch of a static fan-out (also reachable as ``inputs.<step>``), each view carrying that
  branch's artifacts as attributes; ``self.merge_artifacts(inputs)`` copies the artifacts whose
  value is the same in every view.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

from stepc.runtime.plan import Task


class Inputs:
    """The ``inputs`` of a join step: iterable views, also reachable by producer step name."""

    def __init__(self, views: list[SimpleNamespace], by_step: Mapping[str, SimpleNamespace]) -> None:
        self._views = views
        self._by_step = dict(by_step)

    def __iter__(self) -> Iterator[SimpleNamespace]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> SimpleNamespace:
        return self._views[index]

    def __getattr__(self, name: str) -> SimpleNamespace:
        try:
            return self._by_step[name]
        except KeyError:
            raise AttributeError(f"no branch '{name}' among the inputs ({', '.join(self._by_step)})") from None


def _merge_artifacts(flow: Any, inputs: Inputs, exclude: tuple[str, ...] = (), include: tuple[str, ...] = ()) -> None:
    names = {n for view in inputs for n in vars(view)}
    for name in sorted(names):
        if name in exclude or (include and name not in include):
            continue
        values = [getattr(view, name) for view in inputs if hasattr(view, name)]
        if all(v == values[0] for v in values[1:]):
            object.__setattr__(flow, name, values[0])
        elif include:
            raise ValueError(f"merge_artifacts: '{name}' differs between the inputs")


def join_inputs(task: Task, values: Mapping[str, Any], producers: Mapping[str, str]) -> Inputs:
    """Views for a join: per item for gathered inputs, per producer step otherwise."""
    gathered = [b for b in task.inputs if b.mode == "gather"]
    if gathered:
        count = max(len(values[b.name]) for b in gathered)
        views = [SimpleNamespace(**{b.name: values[b.name][k] for b in gathered}) for k in range(count)]
        return Inputs(views, {})
    by_step: dict[str, SimpleNamespace] = {}
    for bound in task.inputs:
        view = by_step.setdefault(producers[bound.name], SimpleNamespace())
        setattr(view, bound.name, values[bound.name])
    return Inputs(list(by_step.values()), by_step)


def call_method(
    task: Task, method: Any, values: Mapping[str, Any], whole: Mapping[str, Any], producers: Mapping[str, str]
) -> dict[str, Any]:
    """Call a FlowSpec step method; ``values`` are the bound arguments (params and inputs, an item
    for the foreach input), ``whole`` the foreach input's whole list."""
    owner = method.__qualname__.rsplit(".", 1)[0]
    cls = getattr(inspect.getmodule(method), owner)
    flow = object.__new__(cls)
    for name, value in {**values, **whole}.items():
        object.__setattr__(flow, name, value)
    object.__setattr__(flow, "next", lambda *args, **kwargs: None)
    object.__setattr__(flow, "merge_artifacts", lambda inputs, **kw: _merge_artifacts(flow, inputs, **kw))
    items = [b for b in task.inputs if b.mode == "item"]
    if task.item is not None:
        object.__setattr__(flow, "index", task.item)
        if items:
            object.__setattr__(flow, "input", values[items[0].name])
    if len(inspect.signature(method).parameters) > 1:  # def join(self, inputs)
        method(flow, join_inputs(task, values, producers))
    else:
        method(flow)
    missing = [name for name in task.outputs if not hasattr(flow, name)]
    if missing:
        raise AttributeError(f"the step did not set {', '.join('self.' + m for m in missing)}")
    return {name: getattr(flow, name) for name in task.outputs}
