"""Airflow 3.x: one DAG file per pipeline, each task running `stepc exec`.

The DAG file imports only Airflow and the standard library, and does nothing at import time
but build the DAG. Every variable piece of a command (flow, steps, store, run id, parameters,
item) reaches `stepc exec` through the task's environment; the shell text is fixed. Values
that must not be rendered by Airflow's Jinja are wrapped in ``literal()``; the only template
expressions are ``{{ run_id }}`` and ``{{ params | tojson }}``, written by the template itself.

Mapping (SPEC §7): step -> ``BashOperator`` (or ``KubernetesPodOperator`` with
``[tool.stepc.airflow] operator = "kubernetes"``); foreach -> dynamic task mapping over
environments built by a small ``@task`` from the producer's control line (or the list
parameter); ``when`` -> a ``@task.short_circuit`` per distinct condition, with every step task
on ``none_failed`` so that a skip stops exactly where the interpreter's stops (effective
conditions already carry the producers' conditions; a merge has none). A condition on an
upstream artifact reads the value from the producer task's control line (its XCom, which
`stepc exec` fills for outputs that conditions read): its short-circuit runs after the
producer, and a part whose value is unknown there holds, leaving the decision to `stepc exec`.
Rollback -> a teardown guard that asks Airflow whether a task failed, then ``stepc exec
--rollback`` (skipped when nothing failed); being a teardown, the guard leaves the run's state
to the step tasks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from stepc.diagnostics import Diagnostic
from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Const,
    Not,
    Parameter,
    ParamRef,
    Pipeline,
    Step,
    condition_text,
    thaw,
)
from stepc.runtime.entry import condition_outputs
from stepc.runtime.plan import artifact_refs

from .airflow_lint import lint_dag
from .base import ALL_FEATURES, Backend, GeneratedFile, Quoted, file_stem, python_literal
from .kubernetes import pod_resources
from .naming import NameRule, assign_names
from .plan import fused_resources

# Airflow's KEY_REGEX and its 250-character limit, for task ids and dag ids alike.
TASK_ID = NameRule(
    250,
    re.compile(r"[^A-Za-z0-9_.-]"),
    replacement="_",
    lower=False,
    start=re.compile(r"[A-Za-z0-9]"),
    prefix="s",
    strip="_",
)
RESERVED = frozenset({"stepc_failed", "stepc_rollback"})
JSON_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}
TAG_MAX = 100  # Airflow refuses longer tags at import
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The shell text of every task: fixed words and environment references, nothing else.
EXEC_HEAD = '"$STEPC_PYTHON" -m stepc exec "$STEPC_FLOW"'
EXEC_TAIL = ' --pipeline "$STEPC_PIPELINE" --run-id "$STEPC_RUN_ID" --store "$STEPC_STORE" --params "$STEPC_PARAMS"'
ROLLBACK = (
    '"$STEPC_PYTHON" -m stepc exec "$STEPC_FLOW" --rollback --pipeline "$STEPC_PIPELINE"'
    ' --run-id "$STEPC_RUN_ID" --store "$STEPC_STORE"'
)
# KubernetesPodOperator pushes XCom from this file, not from stdout.
KPO_WRAP = (
    "mkdir -p /airflow/xcom && {command} > /tmp/stepc-out.txt; code=$?; cat /tmp/stepc-out.txt; "
    "tail -n 1 /tmp/stepc-out.txt > /airflow/xcom/return.json; exit $code"
)


def code(text: str) -> Quoted:
    """Python code made here from fixed text and quoted literals (never raw user text)."""
    return Quoted(text)


def py_condition(cond: Condition) -> Quoted:
    """The condition as a Python expression over ``params``, built from the tree: every name and
    literal goes through :func:`python_literal`, so no user text is ever code."""
    if isinstance(cond, Not):
        return code(f"not ({py_condition(cond.operand)})")
    if isinstance(cond, BoolOp):
        return code(f" {cond.op} ".join(f"({py_condition(c)})" for c in cond.operands))
    assert isinstance(cond, Compare)
    return code(f"{_py_operand(cond.left)} {cond.op} {_py_operand(cond.right)}")


def _py_operand(operand: ParamRef | ArtifactRef | Const) -> str:
    if isinstance(operand, ParamRef):
        return f"params[{python_literal(operand.name)}]"
    if isinstance(operand, Const):
        return python_literal(thaw(operand.value))
    # The value the producer's control line carried; see `when_code` for a missing one.
    return f"values[({python_literal(operand.step)}, {python_literal(operand.name)})]"


def when_code(cond: Condition, readable: set[tuple[str, str]]) -> Quoted | None:
    """The short-circuit expression of a condition that reads upstream artifacts, or None when
    no part of it can be decided before `stepc exec` runs.

    Each conjunct that reads artifacts is wrapped in ``_maybe(lambda: ...)``, which holds when a
    value is missing (not plain, or its producer did not run) or the comparison raises: there,
    `stepc exec` decides. A conjunct reading an artifact outside ``readable`` (a foreach step's,
    or one of a producer that does not run before this task) is dropped, so the result is never
    stricter than the condition.
    """
    parts = cond.operands if isinstance(cond, BoolOp) and cond.op == "and" else (cond,)
    kept: list[str] = []
    for part in parts:
        refs = {(r.step, r.name) for r in artifact_refs(part)}
        if not refs:
            kept.append(f"({py_condition(part)})")
        elif refs <= readable:
            kept.append(f"_maybe(lambda: {py_condition(part)})")
    return code(" and ".join(kept)) if kept else None


def tag_text(key: str, value: str) -> str:
    """``key:value`` (or the bare list tag), cut with a hash to Airflow's tag length."""
    text = f"{key}:{value}" if value else key
    if len(text) <= TAG_MAX:
        return text
    return text[: TAG_MAX - 7] + "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def doc(*parts: str) -> str:
    """Markdown for ``doc_md``; it ends with a newline so that Airflow never takes it for a
    ``.md`` file name to open."""
    return "\n\n".join(p for p in parts if p) + "\n"


@dataclasses.dataclass(frozen=True)
class Unit:
    """What becomes one Airflow task: one step, or the steps of a group fused into one task."""

    key: str
    steps: tuple[Step, ...]

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def condition(self) -> Condition | None:
        """The steps' shared effective condition; steps of a group that disagree are left to
        `stepc exec`, which skips each by its own condition."""
        conditions = {s.condition for s in self.steps}
        return next(iter(conditions)) if len(conditions) == 1 else None


class AirflowBackend(Backend):
    NAME = "airflow"
    DESCRIPTION = "Airflow 3.x DAG files (BashOperator, or KubernetesPodOperator by config)"
    # Conditions on artifacts read the producer's control line (see the module docstring).
    FEATURES: ClassVar[frozenset[str]] = ALL_FEATURES

    @property
    def kubernetes(self) -> bool:
        return bool(self.setting("operator", "bash") == "kubernetes")

    # -- what Airflow cannot say -------------------------------------------------------------

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        operator = self.setting("operator", "bash")
        if operator not in ("bash", "kubernetes"):
            detail = f'[tool.stepc.airflow] operator is "bash" or "kubernetes", not {operator!r}'
            found.append(self.unsupported(pipeline, None, "an unknown operator", detail))
        for step in pipeline.steps:
            if step.retry.times and step.retry.backoff <= 0:
                detail = f"Airflow's backoff multiplier must be positive, not {step.retry.backoff}"
                found.append(self.unsupported(pipeline, step, "retry_backoff", detail))
            for name, _ in step.env:
                if not ENV_NAME.match(name) or name.startswith("STEPC_"):
                    detail = f"{name!r} is not an environment name of its own (STEPC_* are stepc's)"
                    found.append(self.unsupported(pipeline, step, "an environment variable", detail))
        if not self.kubernetes:
            found.extend(self._bash_resource_warnings(pipeline))
        limit = int(self.setting("max_map_length", 1024))  # Airflow's [core] max_map_length
        for step in pipeline.steps:
            if step.foreach is not None and step.foreach.source == "param":
                default = pipeline.param(step.foreach.name).default
                if isinstance(default, tuple | list) and len(default) > limit:
                    detail = f"{len(default)} items by default, more than [core] max_map_length = {limit}"
                    found.append(self.partly_supported(pipeline, step, "foreach_param", detail))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(self.setting("start_date", "2024-01-01"))):
            detail = "[tool.stepc.airflow] start_date is a date like 2024-01-01"
            found.append(self.unsupported(pipeline, None, "schedule", detail))
        if pipeline.schedule and any(p.required for p in pipeline.params):
            detail = "a scheduled DAG needs a default for every parameter"
            found.append(self.unsupported(pipeline, None, "schedule", detail))
        feeders = self.feeders(pipeline)
        for unit in self.units(pipeline):
            timeouts = [s.timeout for s in unit.steps]
            if any(t is None for t in timeouts) and any(t is not None for t in timeouts):
                detail = f"group '{unit.first.group}' runs as one task, whose timeout needs every step's"
                found.append(self.partly_supported(pipeline, unit.first, "timeout", detail))
            sources = {s.foreach for s in unit.steps}
            if len(unit.steps) > 1 and None in sources and len(sources) > 1:
                detail = f"group '{unit.first.group}' mixes foreach and plain steps in one task"
                found.append(self.unsupported(pipeline, unit.first, "group", detail))
            for step in unit.steps[:-1]:
                if step.name in feeders:
                    detail = (
                        f"a foreach iterates over an output of '{step.name}', which is not the last step of "
                        f"group '{step.group}': the task's control line is the last step's"
                    )
                    found.append(self.unsupported(pipeline, step, "group", detail))
            if self.kubernetes and len({s.image for s in unit.steps}) > 1:
                detail = f"the steps of group '{unit.first.group}' run in one pod, so they need one image"
                found.append(self.unsupported(pipeline, unit.steps[1], "group", detail))
        return found

    def partly_supported(self, pipeline: Pipeline, step: Step, feature: str, detail: str) -> Diagnostic:
        return dataclasses.replace(self.unsupported(pipeline, step, feature, detail), severity="warning")

    def _bash_resource_warnings(self, pipeline: Pipeline) -> list[Diagnostic]:
        """A BashOperator runs on the worker as it is: CPU cores become pool slots and GPUs the
        slots of ``gpu_pool`` when one is configured, but memory and disk cannot be reserved,
        and saying nothing would be a silent drop. One warning per kind, at the first step."""
        images = [s for s in pipeline.steps if s.image != pipeline.image]
        memory = [s for s in pipeline.steps if s.resources.memory is not None or s.resources.disk is not None]
        gpus = [s for s in pipeline.steps if s.resources.gpu] if not self.setting("gpu_pool", None) else []
        found = []
        for steps, feature, detail in (
            (memory, "resources", 'a BashOperator cannot reserve memory or disk (operator = "kubernetes" can)'),
            (
                images,
                "its own image",
                'a BashOperator runs in the worker\'s environment (operator = "kubernetes" runs images)',
            ),
            (
                gpus,
                "gpu",
                'set [tool.stepc.airflow] gpu_pool to a pool with a slot per GPU, or operator = "kubernetes"',
            ),
        ):
            if steps:
                others = len(steps) - 1
                more = f" (and {others} more step{'s' if others > 1 else ''})" if others else ""
                found.append(self.partly_supported(pipeline, steps[0], feature, detail + more))
        return found

    # -- the file ------------------------------------------------------------------------------

    def units(self, pipeline: Pipeline) -> list[Unit]:
        """Tasks in topological order; a group's task stands where its first step stood."""
        grouped: dict[str, list[Step]] = {}
        for step in pipeline.steps:
            grouped.setdefault(f"group:{step.group}" if step.group else f"step:{step.name}", []).append(step)
        return [Unit(key, tuple(steps)) for key, steps in grouped.items()]

    @staticmethod
    def feeders(pipeline: Pipeline) -> set[str]:
        """Steps whose output some foreach iterates over: their control line gives the count."""
        return {
            i.producer for s in pipeline.steps if s.foreach is not None for i in s.inputs if i.name == s.foreach.name
        }

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        yield f"{file_stem(pipeline.name)}_dag.py", self.render("airflow/dag.py.j2", **self.view(pipeline))

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        allowed = {"airflow", "kubernetes"} if self.kubernetes else {"airflow"}
        return [self.lint_error(pipeline, f.path, p) for f in files for p in lint_dag(f.content, allowed)]

    def task_ids(self, pipeline: Pipeline, units: list[Unit]) -> dict[str, str]:
        """Unit key (and ``when:``/``items:`` helper keys) -> a unique Airflow task id."""
        wanted: dict[str, str] = {}
        plain = [u.key.split(":", 1)[1] for u in units]
        for unit, name in zip(units, plain, strict=True):
            # A group and a step of the same name keep apart by their keys.
            wanted[unit.key] = name if plain.count(name) == 1 else unit.key
            # Helper tasks carry a NUL in their original so that no step name can equal it.
            wanted[f"when:{unit.key}"] = f"\0when_{name}"
            wanted[f"items:{unit.key}"] = f"\0items_{name}"
        names = assign_names(list(wanted.values()), TASK_ID, RESERVED)
        return {key: names[text] for key, text in wanted.items()}

    def view(self, pipeline: Pipeline) -> dict[str, Any]:
        units = self.units(pipeline)
        ids = self.task_ids(pipeline, units)
        unit_of = {s.name: u for u in units for s in u.steps}
        var = {u.key: code(f"t{i}") for i, u in enumerate(units, 1)}
        # A pod needs a shared store (with credentials from a secret); a worker can use a path.
        store = str(self.setting("store", "s3://stepc/store" if self.kubernetes else ".stepc"))
        base_env = {
            "STEPC_FLOW": pipeline.source,
            "STEPC_PIPELINE": pipeline.name,
            "STEPC_PYTHON": str(self.setting("python", "python")),
        }
        feeders = self.feeders(pipeline)
        published = {(s.name, name) for s in pipeline.steps for name in condition_outputs(pipeline, s)}
        conditions: dict[tuple[Condition, str], dict[str, Any]] = {}
        before: dict[str, set[str]] = {}  # unit key -> every unit key upstream of it
        tasks, edges = [], []
        for unit in units:
            upstream = sorted(
                {unit_of[u].key for s in unit.steps for u in pipeline.upstream(s.name)} - {unit.key},
                key=list(var).index,
            )
            before[unit.key] = set(upstream).union(*(before[u] for u in upstream))
            edges += [(var[u], var[unit.key]) for u in upstream]
            cond = unit.condition
            expr: Quoted | None = None
            producers: dict[str, str] = {}
            if cond is not None and artifact_refs(cond):
                readable = {(st, name) for st, name in published if unit_of[st].key in before[unit.key]}
                expr = when_code(cond, readable)
                producers = {
                    r.step: ids[unit_of[r.step].key] for r in artifact_refs(cond) if (r.step, r.name) in readable
                }
            elif cond is not None:
                expr = py_condition(cond)
            if cond is not None and expr is not None:
                entry = conditions.setdefault(
                    (cond, expr),
                    {"var": code(f"when{len(conditions) + 1}"), "task_id": ids[f"when:{unit.key}"],
                     "expr": expr, "text": condition_text(cond), "targets": [],
                     "producers": dict(sorted(producers.items())),
                     "after": sorted({var[unit_of[st].key] for st in producers}, key=list(var.values()).index)},
                )  # fmt: skip
                entry["targets"].append(var[unit.key])
            tasks.append(self._task(pipeline, unit, ids, var, unit_of, base_env, feeders, published))
        params = [self._param(p) for p in pipeline.params]
        tags = sorted({tag_text(k, v) for s in pipeline.steps for k, v in s.tags} | {"stepc"})
        steps_doc = "\n".join(f"- `{s.name}`" + (f": {s.description}" if s.description else "") for s in pipeline.steps)
        return {
            "dag_id": assign_names([pipeline.name], TASK_ID)[pipeline.name],
            "description": pipeline.description.splitlines()[0] if pipeline.description else None,
            "doc_md": doc(f"Pipeline `{pipeline.name}` from `{pipeline.source}`.", pipeline.description, steps_doc),
            "schedule": pipeline.schedule,
            "start_date": [int(x) for x in str(self.setting("start_date", "2024-01-01")).split("-")],
            "tags": tags,
            "params": params,
            "kubernetes": self.kubernetes,
            "namespace": self.setting("namespace", None),
            "store_secret": self.setting("store_secret", "stepc-store") if self.kubernetes else None,
            "store": store,
            "project_root": str(self.setting("project_root", ".")),
            "base_env": base_env,
            "conditions": list(conditions.values()),
            "tasks": tasks,
            "has_foreach": any(t["items"] for t in tasks),
            "has_values": any(c["producers"] for c in conditions.values()),
            "uses_timedelta": any(t["retries"] or t["timeout"] for t in tasks),
            "edges": edges,
            "rollback": (
                {"image": pipeline.image, "command": self._command(ROLLBACK), "after": [var[u.key] for u in units]}
                if any(s.rollback for s in pipeline.steps)
                else None
            ),
        }

    def _param(self, p: Parameter) -> dict[str, Any]:
        # A default of None is a value the parameter may keep: Airflow validates it at trigger time.
        nullable = not p.required and p.default is None
        schema: dict[str, Any] = {"type": [JSON_TYPES[p.type], "null"] if nullable else JSON_TYPES[p.type]}
        if p.item_type is not None:
            schema["items" if p.type == "list" else "additionalProperties"] = {"type": JSON_TYPES[p.item_type]}
        return {
            "name": p.name,
            "has_default": not p.required,
            "default": thaw(p.default),
            "schema": schema,
            "description": p.description or f"{p.type} parameter",
        }

    def _command(self, text: str) -> str:
        return KPO_WRAP.format(command=text) if self.kubernetes else text

    def _task(
        self,
        pipeline: Pipeline,
        unit: Unit,
        ids: dict[str, str],
        var: dict[str, Quoted],
        unit_of: dict[str, Unit],
        base_env: dict[str, str],
        feeders: set[str],
        published: set[tuple[str, str]],
    ) -> dict[str, Any]:
        steps = unit.steps
        env = dict(base_env)
        words = [EXEC_HEAD]
        for i, step in enumerate(steps, 1):
            env[f"STEPC_STEP_{i}"] = step.name
            words.append(f' --step "$STEPC_STEP_{i}"')
        words.append(EXEC_TAIL)
        env.update({k: v for s in steps for k, v in s.env})
        foreach = next((s for s in steps if s.foreach is not None), None)
        items = None
        if foreach is not None:
            words.append(' --item "$STEPC_ITEM"')
            items = {"var": code(f"items{list(var).index(unit.key) + 1}"), "task_id": ids[f"items:{unit.key}"]}
            items.update(self._items_source(pipeline, foreach, unit_of, var))
        retry = max((s.retry for s in steps), key=lambda r: r.times)
        timeouts = [s.timeout for s in steps]
        tags = {tag_text(k, v) for s in steps for k, v in s.tags}
        return {
            "var": var[unit.key],
            "task_id": ids[unit.key],
            "name": unit.key.split(":", 1)[1],
            "steps": [s.name for s in steps],
            "doc_md": doc(
                *(f"Step `{s.name}`" + (f": {s.description}" if s.description else ".") for s in steps),
                "Tags: " + ", ".join(f"`{t}`" for t in sorted(tags)) if tags else "",
            ),
            "command": self._command("".join(words)),
            # A pod pushes its control line only when asked: for fan-outs and condition values.
            "xcom": any(s.name in feeders or any(st == s.name for st, _ in published) for s in steps),
            "env": env,
            "items": items,
            "retries": retry.times,
            "retry_delay": float(retry.delay),
            "backoff": float(retry.backoff) if retry.times and retry.backoff != 1 else None,
            "timeout": sum(t for t in timeouts if t is not None) if all(t is not None for t in timeouts) else None,
            **self._resources(unit),
        }

    def _items_source(
        self, pipeline: Pipeline, step: Step, unit_of: dict[str, Unit], var: dict[str, Quoted]
    ) -> dict[str, Any]:
        """Where a foreach step's item count comes from: a list parameter, or the control line
        of the (first non-foreach) producer: a chained map iterates its source's items."""
        assert step.foreach is not None
        while step.foreach is not None and step.foreach.source == "input":
            producer = pipeline.step(step.input(step.foreach.name).producer)  # type: ignore[union-attr]
            if producer.foreach is None:
                return {"control": var[unit_of[producer.name].key], "output": step.foreach.name, "param": None}
            step = producer
        assert step.foreach is not None
        return {"control": None, "output": None, "param": step.foreach.name}

    def _resources(self, unit: Unit) -> dict[str, Any]:
        res = [s.resources for s in unit.steps]
        cpu = max((r.cpu for r in res if r.cpu is not None), default=None)
        gpu = max(r.gpu for r in res)
        if not self.kubernetes:
            # Pools are how Airflow shares out a worker: one slot per core, or per GPU.
            if gpu and self.setting("gpu_pool", None):
                return {"pool": str(self.setting("gpu_pool", None)), "pool_slots": gpu, "image": None}
            slots = max(1, math.ceil(cpu)) if cpu is not None else None
            return {"pool": self.setting("pool", None), "pool_slots": slots, "image": None}
        pod = pod_resources(fused_resources(unit.steps), self.setting)
        return {
            "image": unit.first.image,
            "requests": pod.requests,
            "limits": pod.limits,
            "node_selector": pod.node_selector,
            "pool": self.setting("pool", None),
            "pool_slots": None,
        }
