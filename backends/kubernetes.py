"""Kubernetes pod resources, shared by the targets that run steps in pods (Argo, Airflow's
KubernetesPodOperator): the IR's numbers as quantities, requests, limits and a node selector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepc.ir import Resources

from .settings import Setting

# The settings of every target that runs pods (merged into its SETTINGS table).
KUBERNETES_SETTINGS: dict[str, Setting] = {
    "gpu_resource": Setting("string", "nvidia.com/gpu", "the extended resource a GPU is requested as"),
    "gpu_node_selector": Setting("table", {}, "node labels every GPU pod is scheduled by"),
    "gpu_type_label": Setting("string", "nvidia.com/gpu.product", "the node label that a step's `gpu_type` selects"),
}


def cpu_quantity(cores: float) -> str:
    return str(int(cores)) if float(cores).is_integer() else f"{round(cores * 1000)}m"


def byte_quantity(size: int) -> str:
    for unit, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


@dataclass(frozen=True)
class PodResources:
    requests: dict[str, str]
    limits: dict[str, str]
    node_selector: dict[str, str]


def pod_resources(resources: Resources, setting: Callable[[str], Any]) -> PodResources:
    """What one pod with these needs (a group's fused ones: it shares a pod) asks for; memory
    is also the limit (a pod over it is killed rather than starving its node), GPUs are limits
    (Kubernetes takes extended resources there) with an optional node selector."""
    cpu, memory, disk, gpu = resources.cpu, resources.memory, resources.disk, resources.gpu
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    selector: dict[str, str] = {}
    if cpu is not None:
        requests["cpu"] = cpu_quantity(cpu)
    if memory is not None:
        requests["memory"] = limits["memory"] = byte_quantity(memory)
    if disk is not None:
        requests["ephemeral-storage"] = byte_quantity(disk)
    if gpu:
        limits[str(setting("gpu_resource"))] = str(gpu)
        selector = {str(k): str(v) for k, v in dict(setting("gpu_node_selector")).items()}
        if resources.gpu_type:
            selector[str(setting("gpu_type_label"))] = resources.gpu_type
    return PodResources(dict(sorted(requests.items())), dict(sorted(limits.items())), dict(sorted(selector.items())))
