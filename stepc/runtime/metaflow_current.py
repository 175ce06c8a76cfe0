"""``metaflow.current`` while stepc runs a class-dialect step, whether Metaflow is installed or not.

Flows written for Metaflow read ``current.run_id``, ``current.retry_count``, ``current.pathspec``
and the like. Under stepc the values come from the task stepc runs (:class:`TaskIdentity`):

* with the stand-in module (no Metaflow installed), ``metaflow.current`` is :data:`current`,
  an object with Metaflow's fields; a field Metaflow does not have is an AttributeError naming
  the ones there are;
* with a real Metaflow imported by the flow, its own ``current`` is given stepc's values
  through the setters Metaflow's runtime uses (``_set_env``, ``_update_env``), so that code
  reading ``current`` sees the same either way.

``task_id`` is the step and the foreach item path (``train-2``, ``inner-1-0``, ``start``):
unique in a run, as Metaflow's numeric task ids are. ``current.card`` is inert: components
appended to it are dropped (stepc renders no cards; W203 said so at ``@card``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

# What `current` has under stepc; the front end warns at any other `current.<name>`.
FIELDS = (
    "flow_name",
    "run_id",
    "step_name",
    "task_id",
    "retry_count",
    "origin_run_id",
    "pathspec",
    "username",
    "namespace",
    "is_running_flow",
    "parameter_names",
    "is_production",
    "tempdir",
    "project_name",
    "branch_name",
    "project_flow_name",
    "card",
    "tags",
    "get",
)


@dataclass(frozen=True)
class TaskIdentity:
    """Who the running task is, in Metaflow's terms."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int
    parameter_names: tuple[str, ...]
    username: str | None
    project_name: str | None = None
    branch_name: str | None = None
    origin_run_id: str | None = None

    @property
    def project_flow_name(self) -> str | None:
        if self.project_name is None:
            return None
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"

    @property
    def is_production(self) -> bool:
        return self.branch_name is not None and (self.branch_name == "prod" or self.branch_name.startswith("prod."))


def username() -> str | None:
    """The user as Metaflow finds one: ``METAFLOW_USER``, else ``SUDO_USER``, ``USERNAME``,
    ``USER``, never ``root``."""
    for name in ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER"):
        user = os.environ.get(name)
        if user and user != "root":
            return user
    return None


BRANCH_VARIABLE = "STEPC_BRANCH"  # set by `stepc exec` (an engine task): the deployed branch


def branch(user: str | None) -> str:
    """The branch of a ``@project`` flow's task: the deployed one on an engine (``stepc exec``
    sets it), else Metaflow's local default ``user.<username>``."""
    return os.environ.get(BRANCH_VARIABLE) or f"user.{user or 'unknown'}"


class CardCollector:
    """``current.card``: takes what Metaflow's card collector takes, and keeps nothing."""

    def append(self, component: Any, id: str | None = None) -> None:  # noqa: A002 - Metaflow's spelling
        return None

    def extend(self, components: Any) -> None:
        return None

    def clear(self) -> None:
        return None

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        return None

    @property
    def components(self) -> dict[str, Any]:
        return {}

    def __getitem__(self, key: str) -> CardCollector:
        return self

    def __setitem__(self, key: str, value: Any) -> None:
        return None


class Current:
    """The stand-in module's ``current`` (see the module docs)."""

    def __init__(self) -> None:
        self._task: TaskIdentity | None = None
        self.card = CardCollector()

    @property
    def is_running_flow(self) -> bool:
        return self._task is not None

    @property
    def flow_name(self) -> str | None:
        return None if self._task is None else self._task.flow_name

    @property
    def run_id(self) -> str | None:
        return None if self._task is None else self._task.run_id

    @property
    def step_name(self) -> str | None:
        return None if self._task is None else self._task.step_name

    @property
    def task_id(self) -> str | None:
        return None if self._task is None else self._task.task_id

    @property
    def retry_count(self) -> int:
        return 0 if self._task is None else self._task.retry_count

    @property
    def origin_run_id(self) -> str | None:
        return None if self._task is None else self._task.origin_run_id

    @property
    def pathspec(self) -> str | None:
        task = self._task
        return None if task is None else f"{task.flow_name}/{task.run_id}/{task.step_name}/{task.task_id}"

    @property
    def username(self) -> str | None:
        return None if self._task is None else self._task.username

    @property
    def namespace(self) -> str | None:
        return None if self._task is None else f"user:{self._task.username}"

    @property
    def parameter_names(self) -> list[str]:
        return [] if self._task is None else list(self._task.parameter_names)

    @property
    def is_production(self) -> bool:
        return self._task is not None and self._task.is_production

    @property
    def tempdir(self) -> str:
        return os.environ.get("METAFLOW_TEMPDIR", ".")

    @property
    def tags(self) -> list[str]:
        return []

    @property
    def project_name(self) -> str | None:
        return None if self._task is None else self._task.project_name

    @property
    def branch_name(self) -> str | None:
        return None if self._task is None else self._task.branch_name

    @property
    def project_flow_name(self) -> str | None:
        return None if self._task is None else self._task.project_flow_name

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"metaflow.current.{name} is not provided under stepc; it has: {', '.join(f for f in FIELDS if f != 'get')}"
        )


current = Current()


def enter(task: TaskIdentity) -> None:
    """Make ``metaflow.current`` (the stand-in's, and a real Metaflow's if the flow imported it)
    describe ``task``."""
    current._task = task
    real = sys.modules.get("metaflow")
    if real is None or getattr(real, "__stepc_standin__", False):
        return
    real_current = getattr(real, "current", None)
    if real_current is None or not hasattr(real_current, "_set_env"):
        return
    flow = _FlowName(task.flow_name)
    real_current._set_env(
        flow=flow,
        run_id=task.run_id,
        step_name=task.step_name,
        task_id=task.task_id,
        retry_count=task.retry_count,
        origin_run_id=task.origin_run_id,
        namespace=f"user:{task.username}",
        username=task.username,
        is_running=True,
        tags=[],
    )
    extra: dict[str, Any] = {"parameter_names": list(task.parameter_names), "card": current.card}
    extra["is_production"] = task.is_production
    if task.project_name is not None:
        extra.update(
            project_name=task.project_name,
            branch_name=task.branch_name,
            project_flow_name=task.project_flow_name,
        )
    real_current._update_env(extra)


def leave() -> None:
    current._task = None


@dataclass(frozen=True)
class _FlowName:
    """What Metaflow's ``_set_env`` reads of a flow: its name (and graph, which stepc does not give)."""

    name: str
    _graph_info: Any = None
