"""The intermediate representation: what every backend and the interpreter see.

Plain frozen dataclasses, serialised to JSON with sorted keys so that the same pipeline gives
the same bytes on every machine. ``ir_schema.json`` beside this file documents the format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from typing import Literal as TypingLiteral

SCHEMA_VERSION = 1

JSONValue = Any  # None | bool | int | float | str | list | dict, after freezing: tuples for lists

ParamType = TypingLiteral["int", "float", "str", "bool", "list", "dict"]
CachePolicy = TypingLiteral["none", "code_hash", "input_hash", "all"]
InputMode = TypingLiteral["value", "item", "gather"]


# --- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamRef:
    """A pipeline parameter named in a condition."""

    name: str


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact of an upstream step named in a condition (decided at run time)."""

    step: str
    name: str


@dataclass(frozen=True)
class Const:
    """A literal operand; lists are stored as tuples so that conditions stay hashable."""

    value: JSONValue


Operand = ParamRef | ArtifactRef | Const


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of == != < <= > >= in, not in."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` over two or more conditions."""

    op: TypingLiteral["and", "or"]
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


Condition = Compare | BoolOp | Not

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")


def conjoin(conditions: list[Condition | None]) -> Condition | None:
    """AND the given conditions, flattening nested ANDs and dropping repeats, in order."""
    flat: list[Condition] = []
    for cond in conditions:
        if cond is None:
            continue
        parts = cond.operands if isinstance(cond, BoolOp) and cond.op == "and" else (cond,)
        for part in parts:
            if part not in flat:
                flat.append(part)
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return BoolOp("and", tuple(flat))


def _operand_value(operand: Operand, params: dict[str, Any], artifacts: dict[tuple[str, str], Any]) -> Any:
    if isinstance(operand, ParamRef):
        return params[operand.name]
    if isinstance(operand, ArtifactRef):
        return artifacts[(operand.step, operand.name)]
    value = operand.value
    return list(value) if isinstance(value, tuple) else value


def evaluate(
    cond: Condition | None,
    params: dict[str, Any],
    artifacts: dict[tuple[str, str], Any] | None = None,
) -> bool:
    """The reference semantics of a condition; the interpreter and the tests use it."""
    if cond is None:
        return True
    arts = artifacts or {}
    if isinstance(cond, Not):
        return not evaluate(cond.operand, params, arts)
    if isinstance(cond, BoolOp):
        results = (evaluate(c, params, arts) for c in cond.operands)
        return all(results) if cond.op == "and" else any(results)
    left = _operand_value(cond.left, params, arts)
    right = _operand_value(cond.right, params, arts)
    op = cond.op
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    raise ValueError(f"unknown comparison {op!r}")


def condition_parameters(cond: Condition | None) -> set[str]:
    """Names of the pipeline parameters a condition reads."""
    if cond is None:
        return set()
    if isinstance(cond, Not):
        return condition_parameters(cond.operand)
    if isinstance(cond, BoolOp):
        return set().union(*(condition_parameters(c) for c in cond.operands))
    return {o.name for o in (cond.left, cond.right) if isinstance(o, ParamRef)}


def condition_text(cond: Condition | None) -> str:
    """A readable rendering (Python syntax) for graphs and messages."""
    if cond is None:
        return ""
    if isinstance(cond, Not):
        return f"not ({condition_text(cond.operand)})"
    if isinstance(cond, BoolOp):
        return f" {cond.op} ".join(
            f"({condition_text(c)})" if isinstance(c, BoolOp) else condition_text(c) for c in cond.operands
        )
    return f"{_operand_text(cond.left)} {cond.op} {_operand_text(cond.right)}"


def _operand_text(operand: Operand) -> str:
    if isinstance(operand, ParamRef):
        return operand.name
    if isinstance(operand, ArtifactRef):
        return f"{operand.step}.{operand.name}"
    return repr(thaw(operand.value))


# --- steps and pipelines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Where a step is defined: 1-based line, 1-based column, file relative to the project."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParamType
    default: JSONValue = None
    required: bool = False
    item_type: ParamType | None = None  # for list[int] and the values of dict[str, int]
    description: str = ""


@dataclass(frozen=True)
class Retry:
    """Retries after the first attempt; the n-th retry waits ``delay * backoff ** (n-1)``."""

    times: int = 0
    delay: float = 0.0
    backoff: float = 1.0

    def wait_before(self, retry_number: int) -> float:
        return self.delay * self.backoff ** max(0, retry_number - 1)


@dataclass(frozen=True)
class Resources:
    """Normalised: cpu in cores, memory and disk in bytes, gpu as a count."""

    cpu: float | None = None
    memory: int | None = None
    gpu: int = 0
    gpu_type: str | None = None
    disk: int | None = None


@dataclass(frozen=True)
class Input:
    """One artifact a step consumes.

    mode ``value``: the whole artifact; ``item``: one item (the step's foreach input, from a
    list or, for a chained map, from the matching item of a foreach producer); ``gather``: the
    list of all results of a foreach producer, in item order. ``optional``: the function gives
    the parameter the default ``None``, so a skipped producer passes ``None`` instead of
    skipping this step.
    """

    name: str
    producer: str
    mode: InputMode = "value"
    optional: bool = False


@dataclass(frozen=True)
class Foreach:
    """The step runs once per item of an input artifact or of a list parameter."""

    source: TypingLiteral["input", "param"]
    name: str


@dataclass(frozen=True)
class Step:
    name: str
    function: str  # "module:function" or "module:Class.method"
    kind: TypingLiteral["function", "flowspec"] = "function"
    inputs: tuple[Input, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # names of the pipeline parameters the function takes
    after: tuple[str, ...] = ()
    foreach: Foreach | None = None
    when: Condition | None = None  # the step's own condition
    condition: Condition | None = None  # effective: own AND those of required producers
    retry: Retry = field(default_factory=Retry)
    timeout: int | None = None  # seconds per attempt
    cache: CachePolicy = "none"
    code_hash: str = ""
    resources: Resources = field(default_factory=Resources)
    image: str = "python:3.12-slim"
    env: tuple[tuple[str, str], ...] = ()
    rollback: str | None = None  # "module:function"
    group: str | None = None
    weight: float = 1.0
    tags: tuple[tuple[str, str], ...] = ()  # list tags become (tag, "")
    description: str = ""
    span: Span | None = None

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)


@dataclass(frozen=True)
class Edge:
    """``artifact`` None means an ordering edge (``after=``) that passes no data."""

    source: str
    target: str
    artifact: str | None = None


@dataclass(frozen=True)
class Pipeline:
    name: str
    source: str  # the flow file, relative to the project root
    module: str
    steps: tuple[Step, ...]  # in a topological order, ties broken by declaration order
    edges: tuple[Edge, ...] = ()
    params: tuple[Parameter, ...] = ()
    description: str = ""
    schedule: str | None = None
    image: str = "python:3.12-slim"
    schema_version: int = SCHEMA_VERSION

    # Lookups by name are on every backend's and the scheduler's hot path: index once.
    @cached_property
    def _steps_by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    @cached_property
    def _neighbours(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        before: dict[str, set[str]] = {s.name: set() for s in self.steps}
        after: dict[str, set[str]] = {s.name: set() for s in self.steps}
        for e in self.edges:
            before.setdefault(e.target, set()).add(e.source)
            after.setdefault(e.source, set()).add(e.target)
        return ({k: sorted(v) for k, v in before.items()}, {k: sorted(v) for k, v in after.items()})

    def step(self, name: str) -> Step:
        return self._steps_by_name[name]

    def param(self, name: str) -> Parameter:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def upstream(self, name: str) -> list[str]:
        """Steps that must finish before ``name`` starts (data and ordering edges)."""
        return list(self._neighbours[0].get(name, ()))

    def downstream(self, name: str) -> list[str]:
        return list(self._neighbours[1].get(name, ()))


def value_type(value: Any) -> ParamType:
    """The parameter type a plain value has."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


def conforms(value: Any, type_: ParamType) -> bool:
    """Whether ``value`` is a valid value for a parameter of ``type_`` (ints pass as floats)."""
    if type_ == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return value_type(value) == type_ and (type_ != "str" or isinstance(value, str))


def parameters_read(steps: Iterable[Step]) -> set[str]:
    """The parameters running these steps reads: their functions', conditions' and foreach's
    (what `stepc exec` must be given)."""
    names: set[str] = set()
    for step in steps:
        names.update(step.params)
        names.update(condition_parameters(step.condition))
        if step.foreach is not None and step.foreach.source == "param":
            names.add(step.foreach.name)
    return names


# --- JSON -------------------------------------------------------------------------------------


def freeze(value: Any) -> JSONValue:
    """Lists become tuples so that literals in conditions are hashable; dicts stay dicts."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    return value


def thaw(value: Any) -> Any:
    """The JSON-shaped twin of :func:`freeze`: tuples back to lists."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, dict):
        return {str(k): thaw(v) for k, v in value.items()}
    return value


def _condition_to_json(cond: Condition | Operand | None) -> Any:
    if cond is None:
        return None
    if isinstance(cond, ParamRef):
        return {"kind": "param", "name": cond.name}
    if isinstance(cond, ArtifactRef):
        return {"kind": "artifact", "step": cond.step, "name": cond.name}
    if isinstance(cond, Const):
        return {"kind": "const", "value": thaw(cond.value)}
    if isinstance(cond, Not):
        return {"kind": "not", "operand": _condition_to_json(cond.operand)}
    if isinstance(cond, BoolOp):
        return {"kind": cond.op, "operands": [_condition_to_json(c) for c in cond.operands]}
    return {
        "kind": "compare",
        "op": cond.op,
        "left": _condition_to_json(cond.left),
        "right": _condition_to_json(cond.right),
    }


def _condition_from_json(data: Any) -> Any:
    if data is None:
        return None
    kind = data["kind"]
    if kind == "param":
        return ParamRef(data["name"])
    if kind == "artifact":
        return ArtifactRef(data["step"], data["name"])
    if kind == "const":
        return Const(freeze(data["value"]))
    if kind == "not":
        return Not(_condition_from_json(data["operand"]))
    if kind in ("and", "or"):
        return BoolOp(kind, tuple(_condition_from_json(c) for c in data["operands"]))
    return Compare(data["op"], _condition_from_json(data["left"]), _condition_from_json(data["right"]))


def _step_to_json(s: Step) -> dict[str, Any]:
    return {
        "name": s.name,
        "function": s.function,
        "kind": s.kind,
        "inputs": [{"name": i.name, "producer": i.producer, "mode": i.mode, "optional": i.optional} for i in s.inputs],
        "outputs": list(s.outputs),
        "params": list(s.params),
        "after": list(s.after),
        "foreach": None if s.foreach is None else {"source": s.foreach.source, "name": s.foreach.name},
        "when": _condition_to_json(s.when),
        "condition": _condition_to_json(s.condition),
        "retry": {"times": s.retry.times, "delay": s.retry.delay, "backoff": s.retry.backoff},
        "timeout": s.timeout,
        "cache": s.cache,
        "code_hash": s.code_hash,
        "resources": {
            "cpu": s.resources.cpu,
            "memory": s.resources.memory,
            "gpu": s.resources.gpu,
            "gpu_type": s.resources.gpu_type,
            "disk": s.resources.disk,
        },
        "image": s.image,
        "env": dict(s.env),
        "rollback": s.rollback,
        "group": s.group,
        "weight": s.weight,
        "tags": dict(s.tags),
        "description": s.description,
        "span": None
        if s.span is None
        else {
            "file": s.span.file,
            "line": s.span.line,
            "col": s.span.col,
            "end_line": s.span.end_line,
            "end_col": s.span.end_col,
        },
    }


def _step_from_json(d: dict[str, Any]) -> Step:
    res = d["resources"]
    return Step(
        name=d["name"],
        function=d["function"],
        kind=d["kind"],
        inputs=tuple(Input(i["name"], i["producer"], i["mode"], i["optional"]) for i in d["inputs"]),
        outputs=tuple(d["outputs"]),
        params=tuple(d["params"]),
        after=tuple(d["after"]),
        foreach=None if d["foreach"] is None else Foreach(d["foreach"]["source"], d["foreach"]["name"]),
        when=_condition_from_json(d["when"]),
        condition=_condition_from_json(d["condition"]),
        retry=Retry(d["retry"]["times"], d["retry"]["delay"], d["retry"]["backoff"]),
        timeout=d["timeout"],
        cache=d["cache"],
        code_hash=d["code_hash"],
        resources=Resources(res["cpu"], res["memory"], res["gpu"], res["gpu_type"], res["disk"]),
        image=d["image"],
        env=tuple(sorted(d["env"].items())),
        rollback=d["rollback"],
        group=d["group"],
        weight=d["weight"],
        tags=tuple(sorted(d["tags"].items())),
        description=d["description"],
        span=None if d["span"] is None else Span(**d["span"]),
    )


def to_dict(p: Pipeline) -> dict[str, Any]:
    return {
        "schema_version": p.schema_version,
        "name": p.name,
        "source": p.source,
        "module": p.module,
        "description": p.description,
        "schedule": p.schedule,
        "image": p.image,
        "params": [
            {
                "name": q.name,
                "type": q.type,
                "item_type": q.item_type,
                "default": thaw(q.default),
                "required": q.required,
                "description": q.description,
            }
            for q in p.params
        ],
        "steps": [_step_to_json(s) for s in p.steps],
        "edges": [{"source": e.source, "target": e.target, "artifact": e.artifact} for e in p.edges],
    }


def to_json(p: Pipeline) -> str:
    """Canonical JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(to_dict(p), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def from_dict(d: dict[str, Any]) -> Pipeline:
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unsupported IR schema_version {d.get('schema_version')!r}")
    return Pipeline(
        name=d["name"],
        source=d["source"],
        module=d["module"],
        description=d["description"],
        schedule=d["schedule"],
        image=d["image"],
        params=tuple(
            Parameter(q["name"], q["type"], freeze(q["default"]), q["required"], q["item_type"], q["description"])
            for q in d["params"]
        ),
        steps=tuple(_step_from_json(s) for s in d["steps"]),
        edges=tuple(Edge(e["source"], e["target"], e["artifact"]) for e in d["edges"]),
    )


def from_json(text: str) -> Pipeline:
    return from_dict(json.loads(text))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`to_json`'s output, shipped beside this module."""
    from importlib.resources import files

    loaded: dict[str, Any] = json.loads(files("stepc").joinpath("ir_schema.json").read_text(encoding="utf-8"))
    return loaded
