"""What the class-dialect reader found in a flow class, before its graph is wired.

:mod:`stepc.frontend.flowclass` produces these from the source; :mod:`stepc.frontend.flowgraph`
checks the graph, follows the artifacts along it and builds the IR. Anchors are opaque places
in the source, as in :mod:`stepc.declarations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from stepc.declarations import Named, ParamDecl
from stepc.frontend.flowconfigs import ConfigDecl
from stepc.ir import EngineSetting, Resources, Retry, Span

TransitionKind = Literal["linear", "split", "foreach", "switch"]


@dataclass(frozen=True)
class Transition:
    """A ``self.next(...)`` call: where the flow goes after a step.

    ``linear``: one target; ``split``: several, all run (a static fan-out); ``foreach``: one
    target run once per item of the attribute ``foreach``; ``switch``: one of ``cases``
    (key, target), chosen by the value of the attribute ``condition``.
    """

    kind: TransitionKind
    targets: tuple[Named, ...]
    anchor: object
    foreach: Named | None = None
    condition: Named | None = None
    cases: tuple[tuple[Any, Named], ...] = ()


@dataclass(frozen=True)
class MergeDecl:
    """A ``self.merge_artifacts(inputs, include=..., exclude=...)`` call."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    anchor: object


@dataclass(frozen=True)
class FlowStepDecl:
    """One ``@step`` method as written. ``transition`` is None for ``end`` (and for a step whose
    ``self.next`` could not be read, which was reported)."""

    name: Named
    function: str  # "module:Class.method"
    is_join: bool
    transition: Transition | None
    reads: tuple[Named, ...]  # public attributes of self it (or a helper method it calls) reads
    writes: tuple[Named, ...]  # public attributes it assigns
    merges: tuple[MergeDecl, ...] = ()
    soft_reads: tuple[str, ...] = ()  # getattr(self, "x", default), hasattr(self, "x"): may be unset
    reads_any: bool = False  # getattr(self, <expression>): takes every attribute that may arrive
    foreach_api: Named | None = None  # first use of self.input / self.index / self.foreach_stack()
    retry: Retry | None = None
    timeout: int | None = None
    resources: Resources | None = None
    image: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    engine: tuple[EngineSetting, ...] = ()  # @engine(argo={...}, ...)
    secrets: tuple[str, ...] = ()  # @engine(secrets=[...])
    catch: str | None = None
    code_hash: str = ""
    description: str = ""
    span: Span | None = None
    is_start: bool = False  # @step(start=True)
    is_end: bool = False  # @step(end=True)


@dataclass(frozen=True)
class FlowDecl:
    """A ``FlowSpec`` subclass: its steps (in declaration order) and parameters."""

    name: Named
    path: str  # relative to the project root
    module: str
    steps: tuple[FlowStepDecl, ...]
    params: tuple[ParamDecl, ...]
    default_image: str
    description: str = ""
    schedule: str | None = None
    project: str | None = None
    configs: tuple[ConfigDecl, ...] = ()

    @cached_property  # read once per step by the graph walks
    def start(self) -> str:
        """The step the flow begins with: the one marked ``@step(start=True)``, else ``start``
        (the only step of a one-step flow), as Metaflow finds it."""
        return self._endpoint("is_start", "start")

    @cached_property
    def end(self) -> str:
        """The step the flow ends with: ``@step(end=True)``, else ``end`` (see :attr:`start`)."""
        return self._endpoint("is_end", "end")

    def _endpoint(self, mark: str, default: str) -> str:
        if len(self.steps) == 1:
            return self.steps[0].name.value
        marked = [s.name.value for s in self.steps if getattr(s, mark)]
        return marked[0] if len(marked) == 1 else default
