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

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from stepc.diagnostics import Diagnostic
from stepc.fanout import scope_limit
from stepc.ir import (
    Condition,
    Parameter,
    Pipeline,
    Step,
    condition_parameters,
    condition_text,
    thaw,
)
from stepc.runtime.plan import artifact_refs

from .airflow_expr import py_condition, when_code
from .airflow_lint import lint_dag
from .airflow_settings import AIRFLOW_SETTINGS
from .airflow_views import ItemsView, ResourcesView, ShortCircuitView, TaskView, WhenView
from .base import Backend, GeneratedFile, file_stem
from .commands import ExecCall, shell_line
from .features import ACYCLIC_FEATURES, CACHE_NOTE
from .kubernetes import pod_resources
from .naming import NameRule, assign_names
from .plan import NameScheme, Plan, Unit
from .quoting import Quoted, python_literal
from .settings import Setting, check_project_setting, concurrency_problem
from .step_settings import unit_secrets

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
# The shell text of every task: fixed words and environment references, nothing else, in
# this order (see `commands.ExecCall`).
EXEC_ORDER = ("rollback", "steps", "items_of", "pipeline", "run_id", "store", "params", "item")
EXEC_CALL = ExecCall(
    '"$STEPC_PYTHON"',
    '"$STEPC_FLOW"',
    '"$STEPC_PIPELINE"',
    run_id='"$STEPC_RUN_ID"',
    store='"$STEPC_STORE"',
    params='"$STEPC_PARAMS"',
)
# KubernetesPodOperator pushes XCom from this file, not from stdout. The output goes through
# `tee`, so that the pod's log (which `get_logs` follows) shows it as it comes; the exit code
# is kept in a file, as a POSIX shell has no pipefail (1 when the file never came).
KPO_WRAP = (
    "mkdir -p /airflow/xcom && {{ ({command}); echo $? > /tmp/stepc-code; }} | tee /tmp/stepc-out.txt; "
    'tail -n 1 /tmp/stepc-out.txt > /airflow/xcom/return.json; exit "$(cat /tmp/stepc-code || echo 1)"'
)
# Pod names: DNS labels, unique per task; the operator adds a random suffix per pod (up to 63).
POD_NAME = NameRule(50, re.compile(r"[^a-z0-9-]"), start=re.compile(r"[a-z0-9]"), prefix="s")


def code(text: str) -> Quoted:
    """Python code made here from fixed text and quoted literals (never raw user text)."""
    return Quoted(text)


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


class AirflowBackend(Backend):
    NAME = "airflow"
    DESCRIPTION = "Airflow 3.x DAG files (BashOperator, or KubernetesPodOperator by config)"
    # Conditions on artifacts read the producer's control line (see the module docstring).
    FEATURES: ClassVar[frozenset[str]] = ACYCLIC_FEATURES  # PARTIAL says what is honoured in part
    # Resources, GPUs and images are whole with operator = "kubernetes" (see `partial`).
    PARTIAL: ClassVar[dict[str, str]] = {
        "retry_backoff": (
            "Airflow adds jitter: each wait lands between 1x and 2x the one the backoff gives; Airflow 3.0 and "
            "3.1 double only, so there a DAG whose factor is not 2 fails to load, saying it needs 3.2"
        ),
        "resources": (
            "a BashOperator reserves nothing on its worker: CPU cores become pool slots, memory and disk "
            'are not reserved (operator = "kubernetes" requests them)'
        ),
        "gpu": (
            "a BashOperator cannot request a GPU: set [tool.stepc.airflow] gpu_pool to a pool with a slot "
            'per GPU, or operator = "kubernetes"'
        ),
        "image": 'a BashOperator runs in the worker\'s environment (operator = "kubernetes" runs images)',
        "cache": CACHE_NOTE,
    }
    SETTINGS: ClassVar[dict[str, Setting]] = AIRFLOW_SETTINGS
    # Helper tasks are named with the units, and a group and a step of one name keep apart by
    # their keys, so that task ids stay what they were.
    NAMES: ClassVar[NameScheme] = NameScheme(TASK_ID, RESERVED, helpers=("when", "items"), keyed=True)

    @property
    def kubernetes(self) -> bool:
        return bool(self.setting("operator") == "kubernetes")

    # -- what Airflow cannot say -------------------------------------------------------------

    def partial(self) -> dict[str, str]:
        lifted = {"resources", "gpu", "image"} if self.kubernetes else {"gpu"} if self.setting("gpu_pool") else set()
        return {k: v for k, v in self.PARTIAL.items() if k not in lifted}

    def check_step(self, plan: Plan, step: Step) -> list[Diagnostic]:
        pipeline = plan.pipeline
        found = []
        if step.retry.times and step.retry.backoff <= 0:
            detail = f"Airflow's backoff multiplier must be positive, not {step.retry.backoff}"
            found.append(self.unsupported(pipeline, step, "retry_backoff", detail))
        if step.secrets and step.foreach is not None and not self.kubernetes:
            detail = (
                "the items of a BashOperator foreach take their environment from XCom, where secrets "
                'would be stored: use operator = "kubernetes", or read them in the step'
            )
            found.append(self.unsupported(pipeline, step, "secrets", detail))
        for name in [*(k for k, _ in step.env), *step.secrets]:
            if not ENV_NAME.match(name) or name.startswith("STEPC_"):
                detail = f"{name!r} is not an environment name of its own (STEPC_* are stepc's)"
                found.append(self.unsupported(pipeline, step, "an environment variable", detail))
        if step.foreach is not None and step.foreach.source == "param":
            limit = int(self.setting("max_map_length"))
            default = pipeline.param(step.foreach.name).default
            if isinstance(default, tuple | list) and len(default) > limit:
                detail = f"{len(default)} items by default, more than [core] max_map_length = {limit}"
                found.append(self.partly_supported(pipeline, step, "foreach_param", detail))
        return found

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        found.extend(check_project_setting(self.config, "concurrency", concurrency_problem))
        if self.config.concurrency == "replace":
            message = (
                f"pipeline '{pipeline.name}' has concurrency = \"replace\": Airflow cannot cancel a running DAG "
                "run for a new one, so max_active_runs = 1 makes the new run wait (airflow)"
            )
            found.append(self.warning(pipeline, None, message))
        if pipeline.schedule and any(p.required for p in pipeline.params):
            detail = "a scheduled DAG needs a default for every parameter"
            found.append(self.unsupported(pipeline, None, "schedule", detail))
        feeders = self.plan(pipeline).list_producers
        found.extend(self.group_timeout_warnings(pipeline))
        for unit in self.units(pipeline):
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
        return found

    def unit_runs_in(self) -> str | None:
        return "pod" if self.kubernetes else None

    # -- the file ------------------------------------------------------------------------------

    def units(self, pipeline: Pipeline) -> list[Unit]:
        """Tasks in topological order; a group's task stands where its first step stood."""
        return list(self.plan(pipeline).units)

    def image_steps(self, plan: Plan) -> list[Step]:
        return list(plan.steps) if self.kubernetes else []

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        yield f"{file_stem(pipeline.name)}_dag.py", self.render("airflow/dag.py.j2", **self.view(pipeline))

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        allowed = {"airflow", "kubernetes"} if self.kubernetes else {"airflow"}
        return [self.lint_error(pipeline, f.path, p) for f in files for p in lint_dag(f.content, allowed)]

    @staticmethod
    def _var(plan: Plan, unit: Unit) -> Quoted:
        # Tasks live in a dict keyed by task id: a variable of their own would have to be named
        # after the task id (ruff's AIR001), which need not be a Python name.
        return code(f"tasks[{python_literal(unit.name)}]")

    def view(self, pipeline: Pipeline) -> dict[str, Any]:
        plan = self.plan(pipeline)
        tasks: list[TaskView] = self.walk(plan)
        edges = [(up, t.var) for t in tasks for up in t.upstream]
        params = [self._param(p) for p in pipeline.params]
        tags = sorted({tag_text(k, v) for s in plan.steps for k, v in s.tags} | {"stepc"})
        steps_doc = "\n".join(f"- `{s.name}`" + (f": {s.description}" if s.description else "") for s in plan.steps)
        conditions = self._short_circuits(plan, tasks)
        deployed = self.deployment_name(pipeline)
        return {
            "dag_id": assign_names([deployed], TASK_ID)[deployed],
            "description": pipeline.description.splitlines()[0] if pipeline.description else None,
            "doc_md": doc(f"Pipeline `{pipeline.name}` from `{pipeline.source}`.", pipeline.description, steps_doc),
            "schedule": pipeline.schedule,
            "start_date": [int(x) for x in str(self.setting("start_date")).split("-")],
            "tags": tags,
            # Airflow 3 counts max_active_tasks per DAG run (2.x counted every run's together).
            "max_active_tasks": pipeline.max_parallel,
            "params": params,
            "kubernetes": self.kubernetes,
            "namespace": self.setting("namespace"),
            "store_secret": self.setting("store_secret") if self.kubernetes else None,
            "store": self.store,
            "project_root": str(self.setting("project_root")),
            "base_env": self._base_env(pipeline),
            "conditions": conditions,
            "tasks": tasks,
            "has_foreach": any(t.items for t in tasks),
            "has_values": any(c.producers for c in conditions),
            "uses_timedelta": any(t.retries or t.timeout for t in tasks) or pipeline.timeout is not None,
            "uses_backoff": any(t.backoff for t in tasks),
            "max_map_length": int(self.setting("max_map_length")),
            "dagrun_timeout": pipeline.timeout,
            # forbid and replace: one run at a time (Airflow cannot replace; see check_capabilities)
            "max_active_runs": None if self.config.concurrency == "allow" else 1,
            "edges": edges,
            "rollback": (
                {
                    "image": pipeline.image,
                    "command": self._command(self._rollback_line()),
                    "after": [t.var for t in tasks],
                }
                if plan.has_rollback
                else None
            ),
        }

    @property
    def store(self) -> str:
        # A pod needs a shared store (with credentials from a secret); a worker can use a path.
        return str(self.setting("store") or ("s3://stepc/store" if self.kubernetes else ".stepc"))

    def _base_env(self, pipeline: Pipeline) -> dict[str, str]:
        return {
            "STEPC_FLOW": pipeline.source,
            "STEPC_PIPELINE": pipeline.name,
            "STEPC_PYTHON": str(self.setting("python")),
        }

    @staticmethod
    def _short_circuits(plan: Plan, tasks: list[TaskView]) -> list[ShortCircuitView]:
        """One short-circuit per distinct (condition, expression), guarding every task that
        has it, after the tasks whose control lines it reads."""
        groups: dict[tuple[Condition, str], tuple[TaskView, list[Quoted]]] = {}
        for task in tasks:
            if task.when is not None:
                groups.setdefault((task.when.condition, task.when.expr), (task, []))[1].append(task.var)
        views = []
        for number, (first, targets) in enumerate(groups.values(), 1):
            when = first.when
            assert when is not None
            unit = plan.unit(first.task_id)
            after = sorted({plan.index(plan.owner[step]) for step in when.producers})
            views.append(
                ShortCircuitView(
                    var=code(f"when{number}"),
                    task_id=unit.helper("when"),
                    expr=when.expr,
                    text=condition_text(when.condition),
                    targets=targets,
                    producers=dict(sorted(when.producers.items())),
                    reads_params=bool(condition_parameters(when.condition)),
                    after=[AirflowBackend._var(plan, plan.units[i]) for i in after],
                )
            )
        return views

    def when_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> WhenView | None:
        """The short-circuit's test of the unit's condition. A condition on artifacts reads
        only values published by an ancestor (its control line is there when this task is
        due); a part it cannot decide holds (see `when_code`)."""
        cond = unit.condition
        if cond is None:
            return None
        refs = artifact_refs(cond)
        if not refs:
            return WhenView(cond, py_condition(cond), {})
        published = self.per_plan(plan, "published", lambda p: frozenset(p.values))
        readable = {
            (r.step, r.name)
            for r in refs
            if (r.step, r.name) in published and plan.precedes(plan.owner[r.step].name, unit)
        }
        expr = when_code(cond, readable)
        if expr is None:
            return None
        producers = {r.step: plan.owner[r.step].name for r in refs if (r.step, r.name) in readable}
        return WhenView(cond, expr, producers)

    def loop_view(self, plan: Plan, unit: Unit) -> ItemsView | None:
        """Where a mapped task's item count comes from: a list parameter, or the control line
        of the loop's plain producer (a chained map iterates its origin's items)."""
        loop = unit.loop
        if loop is None:
            return None
        var = code(f"items{plan.index(unit) + 1}")
        limit = scope_limit(plan.pipeline, unit.first)
        if loop.kind == "param":
            return ItemsView(var, unit.helper("items"), None, None, loop.name, limit)
        if loop.kind == "paths":
            return ItemsView(var, unit.helper("items"), self._var(plan, plan.lister(loop)), None, None, limit)
        assert loop.producer is not None
        producer = self._var(plan, plan.owner[loop.producer])
        return ItemsView(var, unit.helper("items"), producer, loop.name, None, limit)

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

    @staticmethod
    def _rollback_line() -> str:
        return shell_line(replace(EXEC_CALL, rollback=True, params=None).argv(EXEC_ORDER))

    def task_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> TaskView:
        if unit.lists is not None:
            return self._lister_view(plan, unit)
        pipeline = plan.pipeline
        steps = unit.steps
        env = self._base_env(pipeline)
        for i, step in enumerate(steps, 1):
            env[f"STEPC_STEP_{i}"] = step.name
        env.update({k: v for s in steps for k, v in s.env})
        items = self.loop_view(plan, unit)
        call = replace(
            EXEC_CALL,
            steps=tuple(f'"$STEPC_STEP_{i}"' for i in range(1, len(steps) + 1)),
            item='"$STEPC_ITEM"' if items is not None else None,
        )
        valued = self.per_plan(plan, "valued", lambda p: {step for step, _ in p.values})
        tags = {tag_text(k, v) for s in steps for k, v in s.tags}
        retry = unit.retry
        # A group's task is as urgent as its most urgent step; Airflow's weights are whole.
        weight = math.ceil(max(s.weight for s in steps))
        return TaskView(
            var=self._var(plan, unit),
            task_id=unit.name,
            name=unit.label,
            steps=[s.name for s in steps],
            doc_md=doc(
                *(f"Step `{s.name}`" + (f": {s.description}" if s.description else ".") for s in steps),
                "Tags: " + ", ".join(f"`{t}`" for t in sorted(tags)) if tags else "",
            ),
            command=self._command(shell_line(call.argv(EXEC_ORDER))),
            xcom=any(s.name in plan.list_producers or s.name in valued for s in steps),
            env=env,
            items=items,
            when=self.when_view(plan, unit, done),
            upstream=[self._var(plan, plan.unit(name)) for name in unit.upstream],
            retries=retry.times,
            retry_delay=float(retry.delay),
            backoff=float(retry.backoff) if retry.times and retry.backoff != 1 else None,
            timeout=unit.timeout,
            resources=self.resources_view(plan, unit),
            queue=self.unit_setting(unit, "queue"),
            pod_name=self._pod_names(plan)[unit.name],
            # A step's own engine setting wins over the one its weight gives.
            priority_weight=self.unit_setting(unit, "priority_weight") or (weight if weight > 1 else None),
            # Rendered by Airflow from its Variables when the task starts (names are identifiers).
            secrets={name: f"{{{{ var.value.{name} }}}}" for name in unit_secrets(unit)},
        )

    def _lister_view(self, plan: Plan, unit: Unit) -> TaskView:
        """The task listing a nested foreach's item paths on its control line (its XCom)."""
        env = {**self._base_env(plan.pipeline), "STEPC_ITEMS_OF": unit.first.name}
        call = replace(EXEC_CALL, items_of='"$STEPC_ITEMS_OF"')
        return TaskView(
            var=self._var(plan, unit),
            task_id=unit.name,
            name=f"items of {unit.label}",
            steps=[],
            doc_md=doc(f"The item paths of the nested foreach `{unit.label}`."),
            command=self._command(shell_line(call.argv(EXEC_ORDER))),
            xcom=True,
            env=env,
            items=None,
            when=None,
            upstream=[self._var(plan, plan.unit(name)) for name in unit.upstream],
            retries=0,
            retry_delay=0.0,
            backoff=None,
            timeout=None,
            resources=self.resources_view(plan, unit),
            pod_name=self._pod_names(plan)[unit.name],
        )

    def _pod_names(self, plan: Plan) -> dict[str, str]:
        """Task id -> the pod name of its task, unique in the DAG."""
        return self.per_plan(plan, "pod_names", lambda p: assign_names([u.name for u in p.units], POD_NAME))

    def resources_view(self, plan: Plan, unit: Unit) -> ResourcesView:
        r = unit.resources
        if not self.kubernetes:
            # Pools are how Airflow shares out a worker: one slot per core, or per GPU.
            if r.gpu and self.setting("gpu_pool"):
                return ResourcesView(str(self.setting("gpu_pool")), r.gpu)
            return ResourcesView(
                self.unit_setting(unit, "pool"), max(1, math.ceil(r.cpu)) if r.cpu is not None else None
            )
        pod = pod_resources(r, self.setting)
        return ResourcesView(
            self.unit_setting(unit, "pool"),
            image=unit.first.image,
            requests=pod.requests,
            limits=pod.limits,
            node_selector=pod.node_selector,
        )
