"""Argo Workflows: one DAG template, a container template per task, `stepc exec` in each.

Targets Argo 3.6+ and 4.x with one output (``schedules:`` list, ``depends``, expression tags).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from stepc.config_diagnostics import top_level_problem
from stepc.diagnostics import Diagnostic
from stepc.ir import Parameter, Pipeline, Step, parameters_read, thaw
from stepc.params import NULL_TEXT, nullable
from stepc.runtime.entry import VALUE_UNKNOWN, value_dir
from stepc.runtime.plan import artifact_refs

from .argo_expr import ValueRefs, artifact_when, task_output, when_tag
from .argo_lint import lint_documents
from .argo_passes import ITERATION, passes_dag, passes_name, repeat_when
from .argo_pod import mount_problems, pod_view
from .argo_scopes import Frames
from .argo_settings import ARGO_SETTINGS, valid_zone
from .argo_text import LBRACE_ENV, json_text, kube_text, needs_lbrace, shown_text
from .argo_views import DNS_LABEL, RESERVED_TEMPLATES, ContainerView, RetryView, TaskView
from .base import Backend, GeneratedFile, file_stem
from .commands import ExecCall
from .features import ALL_FEATURES, CACHE_NOTE
from .kubernetes import PodResources, pod_resources
from .naming import NameRule, assign_names
from .plan import NameScheme, Plan, Unit
from .settings import Setting, check_project_setting, concurrency_problem
from .step_settings import unit_secrets

PARAM_NAME = NameRule(200, re.compile(r"[^A-Za-z0-9_-]"), lower=False, start=re.compile(r"[A-Za-z0-9]"))
FOREACH_DIR = "/tmp/stepc/foreach"
VALUES_DIR = "/tmp/stepc/values"
# The characters of an image reference (registry[:port]/repository[:tag][@digest]): no
# whitespace, brace or `$`, so no template tag either.
IMAGE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")
RUN_ID = "{{workflow.name}}"  # unique per workflow run, and DNS-safe, so path-safe in the store
# The order of `stepc exec`'s arguments in a container (see `commands.ExecCall`).
EXEC_ORDER = (
    "steps", "items_of", "pipeline", "store", "run_id", "assignments", "item", "iteration", "retry", "foreach_out",
    "values_out",
)  # fmt: skip
# A pod that retries inside `stepc exec --retry` gets this on top of its attempts and waits.
IN_POD_RETRY_SLACK = 60
ROLLBACK_ORDER = ("rollback", "pipeline", "run_id", "store")


def in_pod_retry(step: Step) -> bool:
    """Whether the step's retries run inside `stepc exec --retry`: Argo's backoff factor is
    an IntOrString that the controller reads as a whole number."""
    return bool(step.retry.times) and not float(step.retry.backoff).is_integer()


def parameter_text(param: Parameter) -> str | None:
    """A parameter default as Argo's string value (JSON for lists, dicts and bools), escaped
    as it reaches `stepc exec`'s arguments (see `argo_text.kube_text`)."""
    if param.required:
        return None
    value = thaw(param.default)
    return kube_text(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def container_env(
    pairs: Iterable[tuple[str, str]], argv: list[str], params: Iterable[str | None]
) -> list[tuple[str, str]]:
    """The env of a container: the user's values escaped, after the one variable that spells
    a brace (`argo_text.LBRACE_ENV`) when its args, env or the defaults of the parameters it
    reads use it (Kubernetes expands a variable only after those declared before it)."""
    env = [(k, kube_text(v)) for k, v in pairs]
    if needs_lbrace([*argv, *(v for _, v in env), *(p for p in params if p is not None)]):
        env.insert(0, (LBRACE_ENV, "{"))
    return env


class ArgoBackend(Backend):
    NAME = "argo"
    DESCRIPTION = "Argo Workflows (3.6+ and 4.x): Workflow, or WorkflowTemplate + CronWorkflow"
    # A condition on an artifact reads the value the producer's exec wrote as an output
    # parameter (see `plan.Plan.value_names`); what `when` cannot say exactly, `stepc exec` decides.
    # A recursive switch is a DAG template that calls itself for the next pass (see `passes_dag`).
    FEATURES: ClassVar[frozenset[str]] = ALL_FEATURES  # PARTIAL says what is honoured in part
    PARTIAL: ClassVar[dict[str, str]] = {"cache": CACHE_NOTE}
    SETTINGS: ClassVar[dict[str, Setting]] = ARGO_SETTINGS
    NAMES: ClassVar[NameScheme] = NameScheme(DNS_LABEL, RESERVED_TEMPLATES, values=PARAM_NAME)

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        found.extend(self._project_timezone())
        found.extend(check_project_setting(self.config, "concurrency", concurrency_problem))
        found.extend(self.group_timeout_warnings(pipeline))
        plan = self.plan(pipeline)
        if plan.has_rollback:  # the rollback's pod runs the pipeline's image
            found.extend(self._image_problems(pipeline, None, pipeline.image))
        for frame, cycle in self._frames(plan).cycles():
            unit = next(u for u in plan.units if u.name in cycle or u.first.scope == frame.path)
            detail = (
                f"a foreach runs as one DAG template per item, and its tasks would wait on each other: "
                f"{' -> '.join(cycle)}"
            )
            found.append(self.unsupported(pipeline, unit.first, "foreach", detail))
        return found

    def unit_runs_in(self) -> str | None:
        return "pod"

    def check_step(self, plan: Plan, step: Step) -> list[Diagnostic]:
        pipeline = plan.pipeline
        found = self._image_problems(pipeline, step, step.image)
        if in_pod_retry(step):
            detail = (
                f"Argo's retryStrategy takes a whole backoff factor, not {step.retry.backoff}, so "
                "`stepc exec --retry` retries the step inside its pod: an attempt that ends the pod "
                "(a crash, eviction, the pod's deadline) is not retried"
            )
            found.append(self.partly_supported(pipeline, step, "retry_backoff", detail))
        found.extend(mount_problems(pipeline, step, self.setting))
        if step.repeat is not None and step.scope:
            detail = "a foreach item's chain is one DAG template, which cannot also call itself for the next pass"
            found.append(self.unsupported(pipeline, step, "recursive_switch", detail))
        elif step.repeat is not None and repeat_when(plan, step) is None:
            detail = "its cases cannot be compared exactly in Argo's `when` (plain str, int, bool or None keys can)"
            found.append(self.unsupported(pipeline, step, "recursive_switch", detail))
        return found

    def _image_problems(self, pipeline: Pipeline, at: Step | None, image: str) -> list[Diagnostic]:
        if IMAGE_REFERENCE.fullmatch(image):
            return []
        detail = f"{image!r} is not a container image reference (Argo would read braces as a template tag)"
        return [self.unsupported(pipeline, at, "image", detail)]

    def _project_timezone(self) -> list[Diagnostic]:
        """T103 for a ``[tool.stepc] timezone`` that is no time zone (this target reads it)."""
        raw = self.config.settings.get("timezone")
        wanted = f"a string, not {raw!r}" if not isinstance(raw, str) else valid_zone(raw)
        if raw is None or wanted is None:
            return []
        return [top_level_problem(self.config, "timezone", wanted)]

    def units(self, pipeline: Pipeline) -> list[Unit]:
        return list(self.plan(pipeline).units)

    def image_steps(self, plan: Plan) -> list[Step]:
        return list(plan.steps)

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        kind = self.setting("kind") or ("cron" if pipeline.schedule else "workflow")
        yield f"{file_stem(pipeline.name)}.argo.yaml", self.render("argo/workflow.yaml.j2", **self.view(pipeline, kind))

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        return [self.lint_error(pipeline, f.path, problem) for f in files for problem in lint_documents(f.content)]

    # -- the view the template renders -------------------------------------------------------

    @property
    def store(self) -> str:
        return str(self.setting("store"))

    @property
    def secret(self) -> str | None:
        return self.setting("store_secret") or None

    def view(self, pipeline: Pipeline, kind: str) -> dict[str, Any]:
        plan = self.plan(pipeline)
        limit = 52 if kind == "cron" else 63
        deployed = self.deployment_name(pipeline)
        wf_name = assign_names([deployed], NameRule(limit, DNS_LABEL.invalid))[deployed]
        views = {t.name: t for t in self.walk(plan) if t is not None}
        dags = self._frames(plan).dags(views, TaskView("", "", None, None, None))
        dags += [passes_dag(plan, unit) for unit in plan.units if unit.first.repeat is not None]
        call = ExecCall(
            "python",
            kube_text(pipeline.source),
            kube_text(pipeline.name),
            rollback=True,
            run_id=RUN_ID,
            store=kube_text(self.store),
        )
        rollback_argv = call.argv(ROLLBACK_ORDER)
        rollback = ContainerView(
            "stepc-rollback",
            pipeline.image,
            rollback_argv[:1],
            rollback_argv[1:],
            env=container_env((), rollback_argv, ()),
            secret=self.secret,
            working_dir=self.working_dir,
            restricted=self.restricted,
            pod=pod_view(self.setting, {}, ()),
        )
        return {
            "kind": "Workflow" if kind == "workflow" else "WorkflowTemplate",
            "name": wf_name,
            "generate_name": f"{wf_name[:57]}-" if kind == "workflow" else None,
            "namespace": self.setting("namespace"),
            "service_account": self.setting("service_account"),
            "label": wf_name,
            "source": shown_text(pipeline.source),
            "description": shown_text(pipeline.description),
            "on_exit": "stepc-exit" if plan.has_rollback else None,
            "rollback": rollback,
            "parameters": [
                {
                    "name": p.name,
                    "value": parameter_text(p),
                    # Argo refuses a value outside the enum, the default's `null` included.
                    "enum": (["true", "false", NULL_TEXT] if nullable(p) else ["true", "false"])
                    if p.type == "bool"
                    else None,
                    "description": shown_text(p.description or f"{p.type} parameter"),
                }
                for p in pipeline.params
            ],
            "dags": dags,
            "deadline": pipeline.timeout,
            "parallelism": pipeline.max_parallel,
            "containers": [t.container for t in views.values() if t.container is not None],
            "cron": self._cron(wf_name, pipeline) if kind == "cron" and pipeline.schedule else None,
            "pod": self._pod_policies(),
        }

    def _cron(self, name: str, pipeline: Pipeline) -> dict[str, Any]:
        return {
            "name": name,
            "schedule": pipeline.schedule,
            "timezone": self.setting("timezone") or self.config.timezone or "UTC",
            "starting_deadline": self.setting("starting_deadline_seconds"),
            "concurrency_policy": self.config.concurrency.capitalize(),  # [tool.stepc] concurrency
        }

    def _pod_policies(self) -> dict[str, Any]:
        """podGC, ttlStrategy and the pod security context of the whole workflow."""
        gc = self.setting("pod_gc")
        ttl = {
            "secondsAfterSuccess": self.setting("ttl_after_success"),
            "secondsAfterFailure": self.setting("ttl_after_failure"),
        }
        user = int(self.setting("run_as_user"))
        return {
            "gc": None if gc == "none" else gc,
            "ttl": sorted((k, v) for k, v in ttl.items() if v),
            "user": user if self.restricted else None,
        }

    @property
    def working_dir(self) -> str:
        return str(self.setting("working_dir"))

    @property
    def restricted(self) -> bool:
        return bool(self.setting("security_context"))

    def task_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> TaskView | None:
        """The unit's task, its dependencies and item left to its frame; None for a lister
        (a frame publishes its nested scopes' items itself)."""
        if unit.lists is not None:
            return None
        container = self._container(plan, unit, bool(unit.first.scope))
        if unit.first.repeat is not None:  # the first pass of the DAG template running the passes
            passes = passes_name(plan, unit)
            return TaskView(unit.name, passes, None, self.when_view(plan, unit, done), container, iteration="0")
        return TaskView(unit.name, unit.name, None, self.when_view(plan, unit, done), container)

    def when_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> str | None:
        """The task's ``when``. A condition on an artifact reads only values published by an
        ancestor task that has no ``when`` of its own, so that it surely ran and set its
        outputs (Argo versions differ in what a skipped task's outputs resolve to); other
        values are left to `stepc exec`."""
        condition = unit.condition
        if condition is None:
            return None
        refs = artifact_refs(condition)
        if not refs:
            return when_tag(condition, plan.params)
        values: ValueRefs = {}
        for ref in refs:
            key = (ref.step, ref.name)
            producer = plan.owner.get(ref.step)
            if key not in plan.value_names or producer is None or not plan.precedes(producer.name, unit):
                continue
            if producer.first.repeat is not None:
                continue  # its task calls the passes, and has no outputs of its own: left to exec
            if self._frames(plan).member(producer.name, unit.first.scope) != producer.name:
                continue  # a task of another frame: not visible here
            if done[producer.name].when is None:
                values[key] = task_output(producer.name, plan.value_names[key])
        return artifact_when(condition, plan.params, values)

    def resources_view(self, plan: Plan, unit: Unit) -> PodResources:
        return pod_resources(unit.resources, self.setting)

    def _frames(self, plan: Plan) -> Frames:
        return self.per_plan(plan, "frames", lambda p: Frames(p, DNS_LABEL, RESERVED_TEMPLATES))

    @staticmethod
    def _assignments(steps: Iterable[Step]) -> tuple[str, ...]:
        """``-p name={{workflow.parameters.name}}`` for each parameter the steps read."""
        return tuple(f"{name}={{{{workflow.parameters.{name}}}}}" for name in sorted(parameters_read(steps)))

    def _container(self, plan: Plan, unit: Unit, takes_item: bool) -> ContainerView:
        outputs = sorted({a for _, a in (*unit.feeds, *plan.nested_feeds(unit))})
        in_pod = any(in_pod_retry(s) for s in unit.steps)
        call = ExecCall(
            "python",
            kube_text(plan.pipeline.source),
            kube_text(plan.pipeline.name),
            steps=tuple(kube_text(s.name) for s in unit.steps),
            store=kube_text(self.store),
            run_id=RUN_ID,
            assignments=self._assignments(unit.steps),
            item="{{inputs.parameters.item}}" if takes_item else None,
            iteration=ITERATION if unit.first.repeat is not None else None,
            foreach_out=FOREACH_DIR if outputs else None,
            values_out=VALUES_DIR if unit.values else None,
            retry=in_pod,
        )
        argv = call.argv(EXEC_ORDER)
        pod = self.resources_view(plan, unit)
        retry = None
        deadline = unit.timeout
        if in_pod:  # the pod's deadline covers every attempt and wait (each attempt stops at its own)
            worst = unit.worst_seconds
            deadline = None if worst is None else math.ceil(worst) + IN_POD_RETRY_SLACK
        elif unit.retry.times:
            retry = RetryView(unit.retry.times)
            if unit.retry.delay or unit.retry.backoff != 1:
                retry = RetryView(
                    unit.retry.times, duration=f"{max(1, round(unit.retry.delay))}s", factor=int(unit.retry.backoff)
                )
        notes = {
            "stepc.dev/steps": shown_text(", ".join(s.name for s in unit.steps)),
            "stepc.dev/description": shown_text(" / ".join(s.description for s in unit.steps if s.description)),
        }
        tags = {k: v for s in unit.steps for k, v in s.tags}
        if tags:
            notes["stepc.dev/tags"] = json_text(tags)
        settings = pod_view(lambda key: self.unit_setting(unit, key), tags, unit_secrets(unit))
        return ContainerView(
            name=unit.name,
            image=unit.first.image,
            command=argv[:1],
            args=argv[1:],
            env=container_env(
                sorted({kv for step in unit.steps for kv in step.env}),
                argv,
                [parameter_text(plan.params[name]) for name in sorted(parameters_read(unit.steps))],
            ),
            secret=self.secret,
            takes_item=takes_item,
            takes_iteration=unit.first.repeat is not None,
            outputs=[(f"items-{a}", f"{FOREACH_DIR}/{a}.json", None) for a in outputs]
            + [self._value_output(pair, plan.value_names) for pair in unit.values],
            requests=sorted(pod.requests.items()),
            limits=sorted(pod.limits.items()),
            node_selector=sorted({**pod.node_selector, **self.unit_setting(unit, "node_selector")}.items()),
            retry=retry,
            deadline=deadline,
            annotations=sorted((k, v) for k, v in notes.items() if v),
            working_dir=self.working_dir,
            restricted=self.restricted,
            pod=settings,
        )

    @staticmethod
    def _value_output(pair: tuple[str, str], values: dict[tuple[str, str], str]) -> tuple[str, str, str | None]:
        # The default stands in when exec never wrote the file (a group stopped before it).
        step, name = pair
        return (values[pair], f"{VALUES_DIR}/{value_dir(step)}/{name}.txt", VALUE_UNKNOWN)
