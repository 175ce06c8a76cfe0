"""The IR as JSON: canonical text (sorted keys, two-space indent, no timestamps, no absolute
paths) that reads back to equal dataclasses, and the JSON Schema that documents it
(``ir_schema.json``, shipped beside this module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stepc.ir import (
    SCHEMA_VERSION,
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Const,
    Edge,
    EngineSetting,
    FlowConfig,
    Foreach,
    IncludedFile,
    Input,
    Not,
    Operand,
    Parameter,
    ParamRef,
    Pipeline,
    Resources,
    Retry,
    Span,
    Step,
    fold,
    freeze,
    thaw,
)


def _operand_to_json(operand: Operand) -> dict[str, Any]:
    if isinstance(operand, ParamRef):
        return {"kind": "param", "name": operand.name}
    if isinstance(operand, ArtifactRef):
        return {"kind": "artifact", "step": operand.step, "name": operand.name}
    return {"kind": "const", "value": thaw(operand.value)}


def _compare_to_json(cond: Compare) -> dict[str, Any]:
    return {
        "kind": "compare",
        "op": cond.op,
        "left": _operand_to_json(cond.left),
        "right": _operand_to_json(cond.right),
    }


def _bool_op_to_json(cond: BoolOp, parts: Iterator[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": cond.op, "operands": list(parts)}


def _not_to_json(cond: Not, inner: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "not", "operand": inner}


def _condition_to_json(cond: Condition | None) -> dict[str, Any] | None:
    return None if cond is None else fold(cond, _compare_to_json, _bool_op_to_json, _not_to_json)


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
        "inputs": [
            {"name": i.name, "producer": i.producer, "mode": i.mode, "optional": i.optional, "views": list(i.views)}
            for i in s.inputs
        ],
        "outputs": list(s.outputs),
        "params": list(s.params),
        "after": list(s.after),
        "foreach": None if s.foreach is None else {"source": s.foreach.source, "name": s.foreach.name},
        "scope": list(s.scope),
        "when": _condition_to_json(s.when),
        "condition": _condition_to_json(s.condition),
        # Only when set: the IR of a step that does not loop is unchanged.
        **({"repeat": _condition_to_json(s.repeat)} if s.repeat is not None else {}),
        **({"max_parallel": s.max_parallel} if s.max_parallel is not None else {}),
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
        "catch": s.catch,
        "group": s.group,
        "weight": s.weight,
        "tags": dict(s.tags),
        "description": s.description,
        "span": _span_to_json(s.span),
        # Only when set, like `repeat`: the IR of a step without them is unchanged.
        **(
            {
                "engine": [
                    {"target": e.target, "key": e.key, "value": thaw(e.value), "span": _span_to_json(e.span)}
                    for e in s.engine
                ]
            }
            if s.engine
            else {}
        ),
        **({"secrets": list(s.secrets)} if s.secrets else {}),
    }


def _span_to_json(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "col": span.col, "end_line": span.end_line, "end_col": span.end_col}


def _step_from_json(d: dict[str, Any]) -> Step:
    res = d["resources"]
    return Step(
        name=d["name"],
        function=d["function"],
        kind=d["kind"],
        inputs=tuple(Input(i["name"], i["producer"], i["mode"], i["optional"], tuple(i["views"])) for i in d["inputs"]),
        outputs=tuple(d["outputs"]),
        params=tuple(d["params"]),
        after=tuple(d["after"]),
        foreach=None if d["foreach"] is None else Foreach(d["foreach"]["source"], d["foreach"]["name"]),
        scope=tuple(d["scope"]),
        when=_condition_from_json(d["when"]),
        condition=_condition_from_json(d["condition"]),
        repeat=_condition_from_json(d.get("repeat")),
        max_parallel=d.get("max_parallel"),
        retry=Retry(d["retry"]["times"], d["retry"]["delay"], d["retry"]["backoff"]),
        timeout=d["timeout"],
        cache=d["cache"],
        code_hash=d["code_hash"],
        resources=Resources(res["cpu"], res["memory"], res["gpu"], res["gpu_type"], res["disk"]),
        image=d["image"],
        env=tuple(sorted(d["env"].items())),
        rollback=d["rollback"],
        catch=d["catch"],
        group=d["group"],
        weight=d["weight"],
        tags=tuple(sorted(d["tags"].items())),
        description=d["description"],
        span=None if d["span"] is None else Span(**d["span"]),
        engine=tuple(
            EngineSetting(e["target"], e["key"], freeze(e["value"]), None if e["span"] is None else Span(**e["span"]))
            for e in d.get("engine", ())
        ),
        secrets=tuple(d.get("secrets", ())),
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
        "project": p.project,
        "params": [
            {
                "name": q.name,
                "type": q.type,
                "item_type": q.item_type,
                "default": thaw(q.default),
                "required": q.required,
                "description": q.description,
                "separator": q.separator,
                "file": None if q.file is None else {"is_text": q.file.is_text, "encoding": q.file.encoding},
                **({"default_expr": q.default_expr} if q.default_expr is not None else {}),
            }
            for q in p.params
        ],
        "steps": [_step_to_json(s) for s in p.steps],
        "edges": [{"source": e.source, "target": e.target, "artifact": e.artifact} for e in p.edges],
        # Only when set: the IR of a pipeline without one is unchanged.
        **({"timeout": p.timeout} if p.timeout is not None else {}),
        **({"max_parallel": p.max_parallel} if p.max_parallel is not None else {}),
        **(
            {
                "configs": [
                    {"name": c.name, "attribute": c.attribute, "value": thaw(c.value), "plain": c.plain}
                    for c in p.configs
                ]
            }
            if p.configs
            else {}
        ),
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
        project=d["project"],
        params=tuple(
            Parameter(
                q["name"],
                q["type"],
                freeze(q["default"]),
                q["required"],
                q["item_type"],
                q["description"],
                q["separator"],
                None if q["file"] is None else IncludedFile(q["file"]["is_text"], q["file"]["encoding"]),
                q.get("default_expr"),
            )
            for q in d["params"]
        ),
        steps=tuple(_step_from_json(s) for s in d["steps"]),
        edges=tuple(Edge(e["source"], e["target"], e["artifact"]) for e in d["edges"]),
        timeout=d.get("timeout"),
        max_parallel=d.get("max_parallel"),
        configs=tuple(
            FlowConfig(c["name"], c["attribute"], freeze(c["value"]), c["plain"]) for c in d.get("configs", ())
        ),
    )


def from_json(text: str) -> Pipeline:
    return from_dict(json.loads(text))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`to_json`'s output, shipped beside this module."""
    from importlib.resources import files

    loaded: dict[str, Any] = json.loads(files("stepc").joinpath("ir_schema.json").read_text(encoding="utf-8"))
    return loaded
