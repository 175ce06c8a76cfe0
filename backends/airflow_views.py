"""The views the Airflow DAG template renders: one per task of the plan, its mapped items,
its short-circuit and its resources (frozen: the template only reads them)."""

from __future__ import annotations

import dataclasses

from stepc.ir import Condition

from .quoting import Quoted


@dataclasses.dataclass(frozen=True)
class ItemsView:
    """The ``@task`` that builds a mapped task's environments: from a list parameter, or from
    the control line of the plain producer of the loop's list."""

    var: Quoted
    task_id: str
    control: Quoted | None
    output: str | None
    param: str | None
    max_active: int | None = None  # the most of the mapped task's items at once (max_parallel)


@dataclasses.dataclass(frozen=True)
class WhenView:
    """What a short-circuit tests before a task: the expression, and the tasks whose control
    lines carry the values it reads (step -> task id)."""

    condition: Condition
    expr: Quoted
    producers: dict[str, str]


@dataclasses.dataclass(frozen=True)
class ShortCircuitView:
    """One ``@task.short_circuit`` per distinct condition, before every task it guards."""

    var: Quoted
    task_id: str
    expr: Quoted
    text: str
    targets: list[Quoted]
    producers: dict[str, str]
    reads_params: bool  # else `params` stays unread (pyflakes' F841)
    after: list[Quoted]


@dataclasses.dataclass(frozen=True)
class ResourcesView:
    """A worker's pool slots (one per core, or per GPU with ``gpu_pool``), or a pod's image,
    requests, limits and node selector."""

    pool: str | None
    pool_slots: int | None = None
    image: str | None = None
    requests: dict[str, str] = dataclasses.field(default_factory=dict)
    limits: dict[str, str] = dataclasses.field(default_factory=dict)
    node_selector: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TaskView:
    """One Airflow task: a unit's steps in one ``stepc exec``."""

    var: Quoted
    task_id: str
    name: str
    steps: list[str]
    doc_md: str
    command: str
    xcom: bool  # a pod pushes its control line only when asked: for fan-outs and condition values
    env: dict[str, str]
    items: ItemsView | None
    when: WhenView | None
    upstream: list[Quoted]
    retries: int
    retry_delay: float
    backoff: float | None
    timeout: int | None
    resources: ResourcesView
    queue: str | None = None
    pod_name: str = ""  # Kubernetes mode: the pod's name (a random suffix is added per pod)
    priority_weight: int | None = None  # None: Airflow's default, 1
    secrets: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> Airflow template of it
