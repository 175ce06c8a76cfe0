"""Argo Workflows: one DAG template, a container template per task, `stepc exec` in each.

Targets Argo 3.6+ and 4.x with one output (``schedules:`` list, ``depends``, expression tags).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stepc.diagnostics import Diagnostic
from stepc.ir import Condition, Parameter, Pipeline, Step, parameters_read, thaw
from stepc.runtime.entry import VALUE_UNKNOWN, condition_reads, value_dir
from stepc.runtime.plan import artifact_refs

from .argo_expr import ValueRefs, artifact_when, string_literal, task_output, when_tag
from .argo_lint import lint_documents
from .base import CACHE_NOTE, Backend, GeneratedFile, file_stem
from .kubernetes import KUBERNETES_SETTINGS, pod_resources
from .naming import NameRule, assign_names, value_names
from .plan import Unit, ancestry, feeds, group_units, loop_of, unit_of, upstream_units
from .settings import Setting

DNS_LABEL = NameRule(63, re.compile(r"[^a-z0-9-]"))
PARAM_NAME = NameRule(200, re.compile(r"[^A-Za-z0-9_-]"), lower=False, start=re.compile(r"[A-Za-z0-9]"))
FOREACH_DIR = "/tmp/stepc/foreach"
VALUES_DIR = "/tmp/stepc/values"
RUN_ID = "{{workflow.name}}"  # unique per workflow run, and DNS-safe, so path-safe in the store
RESERVED_TEMPLATES = frozenset({"main", "stepc-exit", "stepc-rollback"})


@dataclass
class RetryView:
    limit: int
    policy: str = "Always"
    duration: str | None = None
    factor: int = 1


@dataclass
class ContainerView:
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[tuple[str, str]] = field(default_factory=list)
    secret: str | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    limits: list[tuple[str, str]] = field(default_factory=list)
    node_selector: list[tuple[str, str]] = field(default_factory=list)
    retry: RetryView | None = None
    deadline: int | None = None
    outputs: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, path, default
    takes_item: bool = False
    annotations: list[tuple[str, str]] = field(default_factory=list)


def parameter_text(param: Parameter) -> str | None:
    """A parameter default as Argo's string value (JSON for lists, dicts and bools)."""
    if param.required:
        return None
    value = thaw(param.default)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


class ArgoBackend(Backend):
    NAME = "argo"
    DESCRIPTION = "Argo Workflows (3.6+ and 4.x): Workflow, or WorkflowTemplate + CronWorkflow"
    # A condition on an artifact reads the value the producer's exec wrote as an output
    # parameter (see `naming.value_names`); what `when` cannot say exactly, `stepc exec` decides.
    # A timeout is the pod's activeDeadlineSeconds: per attempt, since each retry is a new pod.
    FEATURES: ClassVar[frozenset[str]] = frozenset({
        "foreach", "foreach_param", "chained_map", "condition", "artifact_condition", "merge",
        "retry", "retry_delay", "retry_backoff", "timeout", "resources", "gpu", "image", "rollback",
        "group", "cache", "after", "schedule", "branch_in_foreach",
    })  # fmt: skip
    PARTIAL: ClassVar[dict[str, str]] = {"cache": CACHE_NOTE}
    SETTINGS: ClassVar[dict[str, Setting]] = {
        "kind": Setting(
            "string",
            None,
            "the document kind (`--argo-kind` overrides)",
            choices=("workflow", "template", "cron"),
            shown="`cron` with a schedule, else `workflow`",
        ),
        "namespace": Setting("string", None, "`metadata.namespace` of the documents"),
        "service_account": Setting("string", None, "the service account the pods run as"),
        "store": Setting("string", "s3://stepc/store", "the shared artifact store URL"),
        "store_secret": Setting(
            "string",
            "stepc-store",
            "a Kubernetes secret whose keys become the store credentials' environment variables; empty to omit",
        ),
        **KUBERNETES_SETTINGS,
    }

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        for step in pipeline.steps:
            if step.retry.times and not float(step.retry.backoff).is_integer():
                detail = f"Argo's backoff factor is a whole number, not {step.retry.backoff}"
                found.append(self.unsupported(pipeline, step, "retry_backoff", detail))
        found.extend(self.group_timeout_warnings(pipeline))
        for unit in self.units(pipeline):
            images = {s.image for s in unit.steps}
            if len(images) > 1:
                detail = f"the steps of group '{unit.first.group}' run in one pod, so they need one image"
                found.append(self.unsupported(pipeline, unit.steps[1], "group", detail))
        return found

    def units(self, pipeline: Pipeline) -> list[Unit]:
        return group_units(pipeline, DNS_LABEL, RESERVED_TEMPLATES)

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        kind = self.setting("kind") or ("cron" if pipeline.schedule else "workflow")
        yield f"{file_stem(pipeline.name)}.argo.yaml", self.render("argo/workflow.yaml.j2", **self.view(pipeline, kind))

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        return [self.lint_error(pipeline, f.path, problem) for f in files for problem in lint_documents(f.content)]

    # -- the view the template renders -------------------------------------------------------

    def view(self, pipeline: Pipeline, kind: str) -> dict[str, Any]:
        units = self.units(pipeline)
        params = {p.name: p for p in pipeline.params}
        store = str(self.setting("store"))
        secret = self.setting("store_secret") or None
        limit = 52 if kind == "cron" else 63
        wf_name = assign_names([pipeline.name], NameRule(limit, DNS_LABEL.invalid))[pipeline.name]
        owner = unit_of(units)
        before = ancestry(pipeline, units)
        values = value_names(pipeline, PARAM_NAME)
        reads = condition_reads(pipeline)  # once: per unit, it would walk every condition
        whens: dict[str, str | None] = {}
        tasks, containers = [], []
        for unit in units:
            upstream = upstream_units(pipeline, unit, owner)
            # A group whose steps differ in their conditions runs; `stepc exec` skips step by step.
            conditions = {step.condition for step in unit.steps}
            condition = next(iter(conditions)) if len(conditions) == 1 else None
            when = None
            if condition is not None and artifact_refs(condition):
                refs = self._value_refs(condition, owner, before(unit.name), whens, values)
                when = artifact_when(condition, params, refs)
            elif condition is not None:
                when = when_tag(condition, params)
            whens[unit.name] = when
            loop = self._loop(pipeline, unit, owner)
            tasks.append(
                {
                    "name": unit.name,
                    "template": unit.name,
                    "depends": " && ".join(upstream) or None,
                    "when": when,
                    "with_param": loop[1] if loop and loop[0] == "param" else None,
                    "sequence_count": loop[1] if loop and loop[0] == "sequence" else None,
                }
            )
            containers.append(self._container(pipeline, unit, store, secret, loop is not None, values, reads))
        has_rollback = any(step.rollback for step in pipeline.steps)
        rollback_argv = ["python", "-m", "stepc", "exec", pipeline.source, "--rollback", "--pipeline", pipeline.name]
        rollback_argv += ["--run-id", RUN_ID, "--store", store]
        rollback = ContainerView("stepc-rollback", pipeline.image, rollback_argv[:1], rollback_argv[1:], secret=secret)
        return {
            "kind": "Workflow" if kind == "workflow" else "WorkflowTemplate",
            "name": wf_name,
            "generate_name": f"{wf_name[:57]}-" if kind == "workflow" else None,
            "namespace": self.setting("namespace"),
            "service_account": self.setting("service_account"),
            "label": wf_name,
            "source": pipeline.source,
            "description": pipeline.description,
            "on_exit": "stepc-exit" if has_rollback else None,
            "rollback": rollback,
            "parameters": [
                {
                    "name": p.name,
                    "value": parameter_text(p),
                    "enum": ["true", "false"] if p.type == "bool" else None,
                    "description": p.description or f"{p.type} parameter",
                }
                for p in pipeline.params
            ],
            "tasks": tasks,
            "containers": containers,
            "cron": {"name": wf_name, "schedule": pipeline.schedule} if kind == "cron" and pipeline.schedule else None,
        }

    @staticmethod
    def _value_refs(
        condition: Condition,
        owner: dict[str, Unit],
        before: frozenset[str],
        whens: dict[str, str | None],
        values: dict[tuple[str, str], str],
    ) -> ValueRefs:
        """The values a task's ``when`` may read: published by an ancestor task that has no
        ``when`` of its own, so that it surely ran and set its outputs (Argo versions differ
        in what a skipped task's outputs resolve to); other values are left to `stepc exec`."""
        refs: ValueRefs = {}
        for ref in artifact_refs(condition):
            key = (ref.step, ref.name)
            producer = owner.get(ref.step)
            if key not in values or producer is None or producer.name not in before:
                continue
            if whens.get(producer.name) is None:
                refs[key] = task_output(producer.name, values[key])
        return refs

    @staticmethod
    def _loop(pipeline: Pipeline, unit: Unit, owner: dict[str, Unit]) -> tuple[str, str] | None:
        """("param", withParam text) over a producer's published indices, or ("sequence",
        withSequence count) over a list parameter; a chained map loops like its origin."""
        loop = loop_of(pipeline, unit.first)
        if loop is None:
            return None
        if loop.kind == "param":
            ref = "workflow.parameters[" + string_literal(loop.name) + "]"
            return ("sequence", "{{=len(jsonpath(" + ref + ", '$'))}}")
        assert loop.producer is not None
        return ("param", "{{tasks." + owner[loop.producer].name + ".outputs.parameters.items-" + loop.name + "}}")

    def _container(
        self,
        pipeline: Pipeline,
        unit: Unit,
        store: str,
        secret: str | None,
        takes_item: bool,
        values: dict[tuple[str, str], str],
        reads: dict[str, tuple[str, ...]],
    ) -> ContainerView:
        argv = self.exec_args(pipeline, list(unit.steps), store)
        argv += ["--run-id", RUN_ID]
        for name in sorted(parameters_read(unit.steps)):
            argv += ["-p", f"{name}={{{{workflow.parameters.{name}}}}}"]
        if takes_item:
            argv += ["--item", "{{inputs.parameters.item}}"]
        outputs = sorted({a for step in unit.steps for a in feeds(pipeline, step)})
        if outputs:
            argv += ["--foreach-out", FOREACH_DIR]
        published = [(s, a) for s in unit.steps for a in reads.get(s.name, ())]
        if published:
            argv += ["--values-out", VALUES_DIR]
        view = ContainerView(
            name=unit.name,
            image=unit.first.image,
            command=argv[:1],
            args=argv[1:],
            env=sorted({kv for step in unit.steps for kv in step.env}),
            secret=secret,
            takes_item=takes_item,
            outputs=[(f"items-{a}", f"{FOREACH_DIR}/{a}.json", None) for a in outputs]
            + [self._value_output(step, name, values) for step, name in published],
        )
        self._resources(unit, view)
        retry = max((s.retry for s in unit.steps), key=lambda r: r.times)
        if retry.times:
            view.retry = RetryView(retry.times)
            if retry.delay or retry.backoff != 1:
                view.retry.duration = f"{max(1, round(retry.delay))}s"
                view.retry.factor = int(retry.backoff)
        timeouts = [s.timeout for s in unit.steps]
        if all(t is not None for t in timeouts):
            view.deadline = sum(t for t in timeouts if t is not None)
        notes = {
            "stepc.dev/steps": ", ".join(s.name for s in unit.steps),
            "stepc.dev/description": " / ".join(s.description for s in unit.steps if s.description),
        }
        tags = {k: v for s in unit.steps for k, v in s.tags}
        if tags:
            notes["stepc.dev/tags"] = json.dumps(tags, sort_keys=True, ensure_ascii=False)
        view.annotations = sorted((k, v) for k, v in notes.items() if v)
        return view

    @staticmethod
    def _value_output(step: Step, name: str, values: dict[tuple[str, str], str]) -> tuple[str, str, str | None]:
        # The default stands in when exec never wrote the file (a group stopped before it).
        return (values[(step.name, name)], f"{VALUES_DIR}/{value_dir(step.name)}/{name}.txt", VALUE_UNKNOWN)

    def _resources(self, unit: Unit, view: ContainerView) -> None:
        pod = pod_resources(unit.steps, self.setting)
        view.requests = sorted(pod.requests.items())
        view.limits = sorted(pod.limits.items())
        view.node_selector = sorted(pod.node_selector.items())
