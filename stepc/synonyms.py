"""Did-you-mean by meaning: the names other pipeline systems give to stepc's arguments.

Edit distance finds ``retires`` for ``retry`` but not ``max_retries``, ``depends_on`` or
``condition``: users coming from Airflow, Prefect, Kubeflow, ZenML, Argo, GitHub Actions or
flowyml write the spelling they know. :func:`meaning` maps such a name to the stepc name it
stands for, among the names valid where it was written, so one table serves the arguments of
``@step`` and ``pipeline()``, the keys of their dict arguments, and the class dialect's
decorators.
"""

from __future__ import annotations

from collections.abc import Iterable

# Another system's name -> the stepc names it can mean, the first valid where it is written
# winning (``max_retries`` is ``retry`` in ``@step(...)``, ``times`` in ``retry={...}`` and in
# Metaflow's ``@retry``). Keys are compared without case, ``_``, ``-``, ``.`` or ``/``, so
# ``dependsOn``, ``depends-on`` and ``depends_on`` are one entry.
SYNONYMS: dict[str, tuple[str, ...]] = {
    # @step / pipeline() arguments
    "execution_group": ("group",),
    "group_name": ("group",),
    "retries": ("retry", "times"),
    "max_retries": ("retry", "times"),
    "num_retries": ("retry", "times"),
    "retry_count": ("retry", "times"),
    "retry_policy": ("retry",),
    "retry_strategy": ("retry",),
    "retry_config": ("retry",),
    "retry_delay": ("retry", "delay", "minutes_between_retries"),
    "retry_delay_seconds": ("retry", "delay"),
    "retry_exponential_backoff": ("retry", "backoff"),
    "depends_on": ("after",),
    "depends": ("after",),
    "dependencies": ("after",),
    "upstream": ("after",),
    "upstream_steps": ("after",),
    "needs": ("after",),
    "wait_for": ("after",),
    "requires": ("after",),
    "condition": ("when",),
    "run_if": ("when",),
    "only_if": ("when",),
    "if_": ("when",),
    "timeout_seconds": ("timeout", "seconds"),
    "timeout_minutes": ("timeout", "minutes"),
    "execution_timeout": ("timeout",),
    "dagrun_timeout": ("timeout",),
    "active_deadline_seconds": ("timeout",),
    "max_duration": ("timeout",),
    "time_limit": ("timeout",),
    "docker_image": ("image",),
    "container_image": ("image",),
    "base_image": ("image",),
    "docker": ("image",),
    "enable_cache": ("cache",),
    "enable_caching": ("cache",),
    "caching": ("cache",),
    "cache_policy": ("cache",),
    "use_cache": ("cache",),
    "environment": ("env",),
    "env_vars": ("env", "vars"),
    "environment_variables": ("env", "vars"),
    "resource_requests": ("resources",),
    "resource_settings": ("resources",),
    "compute": ("resources",),
    "task_id": ("name",),
    "step_name": ("name",),
    "display_name": ("name",),
    "dag_id": ("name",),
    "pipeline_name": ("name",),
    "labels": ("tags",),
    "doc": ("description",),
    "doc_md": ("description",),
    "continue_on_failure": ("on_failure",),
    "continue_on_error": ("on_failure",),
    "allow_failure": ("on_failure",),
    "on_error": ("on_failure",),
    "on_failure_callback": ("rollback",),
    "compensate": ("rollback",),
    "expand": ("foreach",),
    "map_over": ("foreach",),
    "parallel_for": ("foreach",),
    "schedule_interval": ("schedule",),
    "cron": ("schedule",),
    "tasks": ("steps",),
    "nodes": ("steps",),
    "parameters": ("params",),
    "cpu": ("resources",),
    "memory": ("resources",),
    "gpu": ("resources",),
    # resources={...} keys (and Metaflow's @resources)
    "cpus": ("cpu", "resources"),
    "num_cpus": ("cpu", "resources"),
    "vcpus": ("cpu", "resources"),
    "cpu_limit": ("cpu", "resources"),
    "cpu_request": ("cpu", "resources"),
    "mem": ("memory", "resources"),
    "ram": ("memory", "resources"),
    "memory_limit": ("memory", "resources"),
    "memory_request": ("memory", "resources"),
    "gpus": ("gpu", "resources"),
    "num_gpus": ("gpu", "resources"),
    "gpu_count": ("gpu", "resources"),
    "nvidia.com/gpu": ("gpu", "resources"),
    "accelerator_count": ("gpu", "resources"),
    "accelerator": ("gpu_type",),
    "accelerator_type": ("gpu_type",),
    "gpu_kind": ("gpu_type",),
    "gpu_model": ("gpu_type",),
    "storage": ("disk",),
    "ephemeral_storage": ("disk",),
    "disk_size": ("disk",),
    # retry={...} keys (and Metaflow's @retry)
    "limit": ("times",),
    "count": ("times",),
    "interval": ("delay", "minutes_between_retries"),
    "wait": ("delay", "minutes_between_retries"),
    "delay_seconds": ("delay",),
    "backoff_factor": ("backoff",),
    "factor": ("backoff",),
    "multiplier": ("backoff",),
    "exponential_backoff": ("backoff",),
    # Metaflow's @catch and @environment
    "variable": ("var",),
    "env": ("vars",),
    "variables": ("vars",),
}


def _plain(name: str) -> str:
    return "".join(c for c in name.lower() if c not in "_-./")


_BY_PLAIN: dict[str, tuple[str, ...]] = {_plain(k): v for k, v in SYNONYMS.items()}


def meaning(name: str, valid: Iterable[str]) -> str | None:
    """The valid name that ``name`` means in another system's spelling, or None."""
    allowed = set(valid)
    return next((m for m in _BY_PLAIN.get(_plain(name), ()) if m in allowed), None)
