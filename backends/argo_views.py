"""The views the Argo template renders: a container template, its retry, a DAG task."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .argo_pod import PodView
from .naming import NameRule

DNS_LABEL = NameRule(63, re.compile(r"[^a-z0-9-]"))  # template and task names
RESERVED_TEMPLATES = frozenset({"main", "stepc-exit", "stepc-rollback"})


@dataclass(frozen=True)
class RetryView:
    limit: int
    policy: str = "Always"
    duration: str | None = None
    factor: int = 1


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[tuple[str, str]] = field(default_factory=list)
    secret: str | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    limits: list[tuple[str, str]] = field(default_factory=list)
    node_selector: list[tuple[str, str]] = field(default_factory=list)
    retry: RetryView | None = None
    deadline: int | None = None
    outputs: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, path, default
    takes_item: bool = False
    takes_iteration: bool = False  # a recursive switch's step: `--iteration` of the pass
    annotations: list[tuple[str, str]] = field(default_factory=list)
    working_dir: str | None = None
    restricted: bool = False  # the container security context of `security_context`
    pod: PodView = field(default_factory=PodView)  # engine settings: tolerations, volumes, labels, secrets


@dataclass(frozen=True)
class TaskView:
    """One DAG task: a unit's, running its container template, or a call of a scope's DAG
    template over the scope's items (``with_param`` or ``sequence_count``); ``item`` is the
    argument it passes (see `argo_scopes`)."""

    name: str
    template: str
    depends: str | None
    when: str | None
    container: ContainerView | None
    with_param: str | None = None
    sequence_count: str | None = None
    item: str | None = None
    iteration: str | None = None
    items: str | None = None  # the item list handed to a fan-out's template
