"""Readers for the values of step and pipeline arguments: shape checks and normalisation.

Each reader takes the literal value and the node it came from and returns the normalised
value or raises :class:`ArgumentError` pointing at the most precise node it can find (the
offending dict entry rather than the whole dict). A dict or list with several bad entries
raises one error that carries them all (:meth:`ArgumentError.each`), so that one
``stepc check`` reports every one at its own place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import libcst as cst

from stepc.diagnostics import did_you_mean
from stepc.ir import Resources, Retry
from stepc.units import UnitError, parse_bytes, parse_cpu, parse_duration

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
CACHE_POLICIES: dict[Any, str] = {
    "code_hash": "code_hash",
    "input_hash": "input_hash",
    True: "all",
    False: "none",
}


class ArgumentError(Exception):
    def __init__(self, node: object, code: str, message: str, also: Sequence[ArgumentError] = ()) -> None:
        super().__init__(message)
        self.node = node  # a CST node or a SubAnchor
        self.code = code
        self.message = message
        self.also = tuple(also)  # further problems of the same argument

    def each(self) -> tuple[ArgumentError, ...]:
        """This problem and the others found in the same argument, in source order."""
        return (self, *self.also)


def raise_all(problems: Sequence[ArgumentError]) -> None:
    """Raise the problems found in one argument together, if there are any."""
    if problems:
        first, *rest = [e for p in problems for e in p.each()]
        raise ArgumentError(first.node, first.code, first.message, rest)


def entry_node(node: cst.CSTNode, key: object, *, want_key: bool = False) -> cst.CSTNode:
    """The node of ``key``'s value (or key) in a dict display, else ``node`` itself."""
    if isinstance(node, cst.Dict):
        for element in node.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == key
            ):
                return element.key if want_key else element.value
    return node


def item_node(node: cst.CSTNode, index: int) -> cst.CSTNode:
    """The node of the ``index``-th element of a list or tuple display, else ``node``."""
    if isinstance(node, (cst.List, cst.Tuple)) and index < len(node.elements):
        return node.elements[index].value
    return node


def read_str(value: Any, node: cst.CSTNode, what: str) -> str:
    if not isinstance(value, str):
        raise ArgumentError(node, "S103", f"{what} must be a string")
    return value


def read_bool(value: Any, node: cst.CSTNode, what: str) -> bool:
    if not isinstance(value, bool):
        raise ArgumentError(node, "S103", f"{what} must be True or False")
    return value


def read_str_list(value: Any, node: cst.CSTNode, what: str) -> list[tuple[str, cst.CSTNode]]:
    """A list of strings, each with its node; a single string is a common slip, so say so."""
    if isinstance(value, str):
        raise ArgumentError(node, "S103", f"{what} must be a list of strings: write [{value!r}]")
    if not isinstance(value, (list, tuple)):
        raise ArgumentError(node, "S103", f"{what} must be a list of strings")
    items = []
    problems = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(ArgumentError(item_node(node, index), "S103", f"{what} must be a list of strings"))
        items.append((item, item_node(node, index)))
    raise_all(problems)
    return items


def read_retry(value: Any, node: cst.CSTNode) -> Retry:
    if isinstance(value, bool) or not isinstance(value, (int, dict)):
        raise ArgumentError(node, "S103", "retry must be an int or a dict {'times': n, 'delay': s, 'backoff': f}")
    if isinstance(value, int):
        if value < 0:
            raise ArgumentError(node, "S114", f"retry must not be negative (got {value})")
        return Retry(times=value)
    problems = [
        ArgumentError(
            entry_node(node, key, want_key=True),
            "S101",
            f"unknown retry setting {key!r}{did_you_mean(str(key), RETRY_KEYS, synonyms=True)}",
        )
        for key in value
        if key not in RETRY_KEYS
    ]
    times, delay, backoff = value.get("times", 0), value.get("delay", 0), value.get("backoff", 1)
    for key, number in (("times", times), ("delay", delay), ("backoff", backoff)):
        problem = _retry_number_problem(key, number)
        if problem is not None:
            problems.append(ArgumentError(entry_node(node, key), *problem))
    raise_all(problems)
    return Retry(times=int(times), delay=float(delay), backoff=float(backoff))


RETRY_KEYS = ("times", "delay", "backoff")


def _retry_number_problem(key: str, number: Any) -> tuple[str, str] | None:
    """The code and message of what is wrong with ``retry={key: number}``, if anything."""
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or (key == "times" and not isinstance(number, int))
    ):
        return "S103", f"retry {key} must be {'an int' if key == 'times' else 'a number'}"
    if number < 0:
        return "S114", f"retry {key} must not be negative (got {number})"
    if key == "backoff" and number < 1:
        return "S114", f"retry backoff must be at least 1 (got {number})"
    return None


def read_timeout(value: Any, node: cst.CSTNode) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
        raise ArgumentError(node, "S114", f"timeout must be more than 0 seconds (got {value})")
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise ArgumentError(node, "S103", f"timeout: {exc}") from None


def read_cache(value: Any, node: cst.CSTNode) -> str:
    if not isinstance(value, (str, bool)) or value not in CACHE_POLICIES:
        hint = did_you_mean(value, ["code_hash", "input_hash"]) if isinstance(value, str) else ""
        raise ArgumentError(
            node, "S120", f"cache must be 'code_hash', 'input_hash', True or False, not {value!r}{hint}"
        )
    return CACHE_POLICIES[value]


RESOURCE_KEYS = ("cpu", "memory", "gpu", "gpu_type", "disk")


def read_resources(value: Any, node: cst.CSTNode) -> Resources:
    if not isinstance(value, dict):
        raise ArgumentError(node, "S103", "resources must be a dict such as {'cpu': 2, 'memory': '4Gi'}")
    problems = [
        ArgumentError(
            entry_node(node, key, want_key=True),
            "S112",
            f"unknown resource {key!r}{did_you_mean(str(key), RESOURCE_KEYS, synonyms=True)}",
        )
        for key in value
        if key not in RESOURCE_KEYS
    ]
    cpu = None
    try:
        cpu = parse_cpu(value["cpu"]) if "cpu" in value else None
    except UnitError as exc:
        problems.append(ArgumentError(entry_node(node, "cpu"), "S112", str(exc)))
    sizes: dict[str, int | None] = {}
    for key in ("memory", "disk"):
        try:
            sizes[key] = parse_bytes(value[key], key) if key in value else None
        except UnitError as exc:
            problems.append(ArgumentError(entry_node(node, key), "S112", str(exc)))
    gpu = value.get("gpu", 0)
    if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
        problems.append(
            ArgumentError(entry_node(node, "gpu"), "S112", f"gpu must be a whole number of GPUs, not {gpu!r}")
        )
    gpu_type = value.get("gpu_type")
    if gpu_type is not None and not isinstance(gpu_type, str):
        problems.append(ArgumentError(entry_node(node, "gpu_type"), "S112", "gpu_type must be a string"))
    raise_all(problems)
    return Resources(cpu=cpu, memory=sizes.get("memory"), gpu=gpu, gpu_type=gpu_type, disk=sizes.get("disk"))


def read_str_dict(value: Any, node: cst.CSTNode, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ArgumentError(node, "S103", f"{what} must be a dict of strings")
    raise_all(_str_dict_problems(value, node, what))
    return tuple(sorted(value.items()))


def _str_dict_problems(value: dict[Any, Any], node: cst.CSTNode, what: str) -> list[ArgumentError]:
    return [
        ArgumentError(entry_node(node, key), "S103", f"{what} must map strings to strings ({key!r})")
        for key, item in value.items()
        if not isinstance(key, str) or not isinstance(item, str)
    ]


def read_env(value: Any, node: cst.CSTNode) -> tuple[tuple[str, str], ...]:
    """Environment variables: names every shell and engine accepts, string values."""
    if not isinstance(value, dict):
        raise ArgumentError(node, "S103", "env must be a dict of strings")
    problems = _str_dict_problems(value, node, "env")
    for key in value:
        if isinstance(key, str) and not IDENTIFIER.match(key):
            message = f"env name {key!r} is not an environment variable name (letters, digits and '_')"
            problems.append(ArgumentError(entry_node(node, key, want_key=True), "S103", message))
    raise_all(problems)  # shown sorted by place, whatever the order found
    return tuple(sorted(value.items()))


def read_tags(value: Any, node: cst.CSTNode) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return read_str_dict(value, node, "tags")
    return tuple(sorted((tag, "") for tag, _ in read_str_list(value, node, "tags")))


def read_weight(value: Any, node: cst.CSTNode) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(node, "S103", "weight must be a number")
    if value <= 0:
        raise ArgumentError(node, "S114", f"weight must be more than 0 (got {value})")
    return float(value)


def read_max_parallel(value: Any, node: cst.CSTNode) -> int:
    """``max_parallel=``: a whole number of tasks (or foreach items) at once, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(node, "S103", f"max_parallel must be a whole number, such as 10, not {value!r}")
    if value <= 0:
        raise ArgumentError(node, "S114", f"max_parallel must be at least 1 (got {value})")
    return value


def read_schedule(value: Any, node: cst.CSTNode, what: str = "schedule") -> str:
    """A cron schedule, checked (``pipeline(schedule=)``, ``@schedule(cron=)``)."""
    from stepc.cron import cron_error  # only flows with a schedule need it

    text = read_str(value, node, what)
    problem = cron_error(text)
    if problem:
        raise ArgumentError(node, "S113", f"bad cron schedule {text!r}: {problem}")
    return text.strip()


def read_pipeline_name(value: Any, node: cst.BaseExpression) -> str:
    name = read_str(value, node, "pipeline name")
    if not name.strip() or "\n" in name:
        raise ArgumentError(node, "S103", "a pipeline name must be a non-empty single line, e.g. 'nightly-training'")
    return name


def read_image(value: Any, node: cst.BaseExpression) -> str:
    image = read_str(value, node, "image")
    if not image.strip() or any(c.isspace() for c in image):
        raise ArgumentError(node, "S103", f"image {image!r} is not a container image reference such as 'python:3.12'")
    return image


def unique_str_list(what: str) -> Callable[[Any, cst.BaseExpression], list[tuple[str, cst.CSTNode]]]:
    """A reader of ``what=[...]``: a list of strings, each listed once."""

    def read(value: Any, node: cst.BaseExpression) -> list[tuple[str, cst.CSTNode]]:
        items = read_str_list(value, node, what)
        seen: set[str] = set()
        twice = []
        for item, item_node in items:
            if item in seen:
                twice.append(ArgumentError(item_node, "S106", f"{what} lists {item!r} twice"))
            seen.add(item)
        raise_all(twice)
        return items

    return read


def read_params(value: Any, node: cst.BaseExpression) -> dict[str, tuple[Any, object]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ArgumentError(node, "S103", "params must be a dict from parameter names to values")
    return {k: (v, entry_node(node, k, want_key=True)) for k, v in value.items()}


def read_on_failure(value: Any, node: cst.BaseExpression) -> str:
    """``"fail"`` (the run fails) or ``"continue"`` (the step's outputs are None, the run goes on)."""
    if value not in ("fail", "continue"):
        hint = did_you_mean(value, ["fail", "continue"]) if isinstance(value, str) else ""
        raise ArgumentError(node, "S103", f"on_failure must be 'fail' or 'continue', not {value!r}{hint}")
    return str(value)
