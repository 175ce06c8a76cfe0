"""The class dialect's step decorators (``@retry``, ``@timeout``, ``@resources``, ``@catch``,
``@kubernetes``, ``@batch``, ``@environment``, stepc's ``@engine``) and ``@schedule``, read into
IR settings.

Metaflow's units and defaults apply: memory and disk in megabytes, a bare ``@retry`` is three
retries two minutes apart, and where several decorators request resources the largest wins.
Readers raise :class:`ArgumentError` at the offending argument (every one of a decorator's
bad arguments together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from stepc.frontend import arguments as args
from stepc.frontend.arguments import ArgumentError
from stepc.ir import EngineSetting, Resources, Retry

Values = dict[str, tuple[Any, cst.CSTNode]]  # argument -> (static value, node)

# Decorator -> the arguments stepc maps to the IR (others are reported, not dropped silently).
STEP_DECORATORS: dict[str, tuple[str, ...]] = {
    "retry": ("times", "minutes_between_retries"),
    "timeout": ("seconds", "minutes", "hours"),
    "resources": ("cpu", "memory", "gpu", "disk"),
    "catch": ("var", "print_exception"),
    "kubernetes": ("image", "cpu", "memory", "gpu", "disk"),
    "batch": ("image", "cpu", "memory", "gpu"),
    "environment": ("vars",),
}
SCHEDULES = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0"}


@dataclass
class StepSettings:
    """What a step's decorators set, gathered decorator by decorator."""

    retry: Retry | None = None
    timeout: int | None = None
    resources: Resources | None = None
    image: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    engine: tuple[EngineSetting, ...] = ()
    secrets: tuple[str, ...] = ()
    catch: tuple[str, cst.CSTNode] | None = None  # (attribute or "" for none, where it is named)
    sizes: Values = field(default_factory=dict)  # cpu, memory, gpu, disk requests so far

    def apply(self, api: str, values: Values, node: cst.CSTNode) -> None:
        """Take one decorator ``@api(**values)`` written at ``node``."""
        if api == "retry":
            numbers = _numbers(values, {"times": 3, "minutes_between_retries": 2}, "@retry")
            times = numbers["times"]
            if times != int(times):
                raise ArgumentError(values["times"][1], "S103", "@retry times must be a whole number")
            self.retry = Retry(times=int(times), delay=numbers["minutes_between_retries"] * 60)
        elif api == "timeout":
            units = {"seconds": 1, "minutes": 60, "hours": 3600}
            numbers = _numbers(values, dict.fromkeys(units, 0), "@timeout")
            seconds = sum(numbers[key] * factor for key, factor in units.items())
            if seconds <= 0:
                raise ArgumentError(
                    node, "S114", "@timeout must be more than 0 seconds: give seconds=, minutes= or hours="
                )
            self.timeout = int(seconds)
        elif api == "catch":
            var, where = values.get("var", ("", node))  # no var: the failure is caught, not stored
            if var and not (isinstance(var, str) and args.IDENTIFIER.match(var)):
                raise ArgumentError(where, "S103", "@catch var must be an attribute name")
            self.catch = (var or "", where)
        elif api == "environment":
            if "vars" in values:
                self.env = args.read_env(*values["vars"])
        else:  # resources, kubernetes, batch
            if "image" in values:
                self.image = args.read_str(*values["image"], "image")
            for key in ("cpu", "memory", "gpu", "disk"):
                if key in values:
                    self.sizes[key] = max(self.sizes.get(key, values[key]), values[key], key=_size_order)

    def size(self, anchor: cst.CSTNode) -> None:
        """Settle the resource requests gathered from all decorators."""
        if self.sizes:
            self.resources = _resources(self.sizes, anchor)


def _numbers(values: Values, defaults: dict[str, float], what: str) -> dict[str, float]:
    """Each of ``defaults``' arguments as a non-negative number; every bad one is reported."""
    numbers: dict[str, float] = {}
    problems = []
    for key, default in defaults.items():
        value, node = values.get(key, (default, None))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(ArgumentError(node, "S103", f"{what} {key} must be a number"))
        elif value < 0:
            problems.append(ArgumentError(node, "S114", f"{what} {key} must not be negative (got {value})"))
        else:
            numbers[key] = float(value)
    args.raise_all(problems)
    return numbers


def _size_order(entry: tuple[Any, cst.CSTNode]) -> float:
    try:
        return float(entry[0])
    except (TypeError, ValueError):
        return float("inf")  # a wrong value is kept, to be reported


def _resources(sizes: Values, anchor: cst.CSTNode) -> Resources:
    spelled: dict[str, Any] = {}
    problems = []
    for key, (value, node) in sizes.items():
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            value = float(value) if "." in value else int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(ArgumentError(node, "S112", f"{key} must be a non-negative number, not {value!r}"))
        elif key == "gpu" and value != int(value):
            problems.append(ArgumentError(node, "S112", f"gpu must be a whole number of GPUs, not {value!r}"))
        else:
            spelled[key] = f"{value}Mi" if key in ("memory", "disk") else int(value) if key == "gpu" else value
    args.raise_all(problems)
    return args.read_resources(spelled, anchor)
