"""GitHub Actions: one workflow file, a job per step (or group), `stepc exec` in each job.

How a run works:

* a first job, ``stepc-params``, turns the dispatch inputs (or, on a schedule, nothing) into the
  resolved parameters as one JSON job output, and publishes the indices of every list
  parameter a step fans out over;
* every other job checks out the repository (keeping no credentials), installs the project
  (with setup-python's pip cache), downloads the store files of the ancestors it reads and no others
  (artifacts named ``stepc.<job>`` and ``stepc.<job>.<item>``, one minimatch pattern) into its
  own store, runs ``python -m stepc exec`` and uploads what that wrote;
* every action is pinned by commit (``gha_pins``); one run at a time per concurrency group;
* a condition GitHub can say goes into the job's ``if:`` as a *necessary* condition (see
  ``gha_expr``: GitHub compares strings ignoring case, so it may let a job start that Python
  would skip, never the reverse); a condition on an upstream artifact reads the value text the
  producer job publishes as a job output (``value-*``, written from `stepc exec`'s control
  line); ``stepc exec`` then decides exactly, and a step whose
  condition is false exits 0 with status ``skipped``. Downstream ``stepc exec`` calls read skips
  from the store, or infer them from conditions for a job GitHub skipped, as the interpreter
  does;
* every job's ``if:`` starts with ``!cancelled() && !failure()``, so merges and joins run after
  skipped jobs (a fan-out over an empty list is skipped too: GitHub rejects an empty matrix),
  and nothing runs after a failure except the ``if: failure()`` rollback job.

Nothing user-written reaches a ``run:`` script: the scripts are constants of this module and
read everything through ``env:``; user text in ``env:`` has ``${{`` broken up so that GitHub
evaluates nothing it contains.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, ClassVar

from stepc.diagnostics import Diagnostic
from stepc.fanout import scope_limit
from stepc.ir import Pipeline, Step
from stepc.runtime.plan import artifact_refs

from .base import Backend, GeneratedFile, file_stem
from .features import ACYCLIC_FEATURES, CACHE_NOTE
from .gha_expr import job_condition
from .gha_lint import lint_workflow
from .gha_pins import pinned
from .gha_quote import gh_json, gh_text, gh_value, yaml_block, yaml_key
from .gha_scripts import FEED_SCRIPT, LISTER_SCRIPT, PARAMS_SCRIPT, ROLLBACK_SCRIPT, RUN_SCRIPT, VALUES_SCRIPT
from .gha_settings import GHA_SETTINGS
from .gha_views import JOB_ID, JobView, MatrixView, RunView, dispatch_inputs
from .naming import assign_names
from .plan import NameScheme, Plan, Unit, choose_machine, loop_of, store_segment
from .quoting import BASE_FILTERS
from .settings import Setting
from .step_settings import unit_value

PARAMS_JOB = "stepc-params"
PARAMS_JOB_OK = "needs.stepc-params.result == 'success'"
ALL_UPLOADS = "stepc.*"  # every job's (and every matrix leg's) upload is named stepc.<job>[.<item>]
ROLLBACK_JOB = "stepc-rollback"
RESERVED_JOBS = frozenset({PARAMS_JOB, ROLLBACK_JOB})
STORE = ".stepc-store"
MAX_INPUTS = 25  # workflow_dispatch accepts at most 25 inputs
MAX_MATRIX = 256  # a matrix makes at most 256 jobs per workflow run
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class GitHubActionsBackend(Backend):
    NAME = "gha"
    DESCRIPTION = "GitHub Actions: .github/workflows/<pipeline>.yml, a job per step, artifacts between jobs"
    FILTERS = {
        **BASE_FILTERS,
        "gh": gh_value,
        "gh_text": gh_text,
        "gh_json": gh_json,
        "block": yaml_block,
        "key": yaml_key,
    }
    # Every condition is decided inside `stepc exec`, which reads upstream artifacts itself;
    # `if:` only skips early.
    FEATURES: ClassVar[frozenset[str]] = ACYCLIC_FEATURES  # PARTIAL says what is honoured in part
    # GPUs are whole once a runner with GPUs is configured. A step with an image of its own
    # runs in a job container of it (with container = true, every job does).
    PARTIAL: ClassVar[dict[str, str]] = {
        "retry": (
            "GitHub cannot retry a job, so `stepc exec --retry` retries in the same job: an attempt "
            "that ends the process or the job (a crash, the timeout) is not retried"
        ),
        "timeout": (
            "GitHub's timeout-minutes bounds the whole job (every attempt, the waits and setup_minutes, "
            "in whole minutes), so one attempt is not stopped at its own timeout"
        ),
        "gpu": (
            "hosted runners have no GPU: list a runner with GPUs in [tool.stepc.gha] runners "
            "(until then the job runs on runs_on)"
        ),
        "cache": CACHE_NOTE,
        "run_max_parallel": (
            "GitHub bounds the legs of one matrix (strategy.max-parallel, which gets this bound too), "
            "not the jobs of a run together"
        ),
    }
    SETTINGS: ClassVar[dict[str, Setting]] = GHA_SETTINGS
    NAMES: ClassVar[NameScheme] = NameScheme(JOB_ID, RESERVED_JOBS, values=JOB_ID)

    # -- checks -----------------------------------------------------------------------------

    def partial(self) -> dict[str, str]:
        lifted = set()
        if any(isinstance(r, dict) and int(r.get("gpu", 0)) for r in self.setting("runners")):
            lifted.add("gpu")
        return {k: v for k, v in self.PARTIAL.items() if k not in lifted}

    # -- checks -----------------------------------------------------------------------------

    def check_step(self, plan: Plan, step: Step) -> list[Diagnostic]:
        pipeline = plan.pipeline
        found = []
        loop = loop_of(pipeline, step)
        if loop is not None and loop.kind == "param" and step.foreach and step.foreach.name == loop.name:
            default = pipeline.param(loop.name).default
            if isinstance(default, (list, tuple)) and len(default) > MAX_MATRIX:
                detail = f"its {len(default)} items exceed GitHub's limit of {MAX_MATRIX} matrix jobs"
                found.append(self.unsupported(pipeline, step, "foreach_param", detail))
        for name in step.secrets:
            if name.upper().startswith("GITHUB_"):
                detail = f"GitHub reserves secret names starting with GITHUB_, such as {name!r}"
                found.append(self.unsupported(pipeline, step, "secrets", detail))
        gpus_partial = "gpu" in self.partial()  # then the GPU warning has said it
        own_runner = "runs_on" in step.engine_settings(self.NAME)
        if not own_runner and not self._runner(step)[1] and not (gpus_partial and step.resources.gpu):
            message = (
                f"step '{step.name}' needs more than {self._default_runs_on()!r} has (GPUs, CPU or memory), "
                "and no entry of [tool.stepc.gha] runners holds it: it runs there anyway"
            )
            found.append(self.warning(pipeline, step, message))
        return found

    def unit_runs_in(self) -> str | None:
        return "job"  # a job has one container

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        found = super().check_capabilities(pipeline)
        if len(pipeline.params) > MAX_INPUTS and self.setting("params") != "json":
            found.append(
                self.unsupported(
                    pipeline,
                    None,
                    f"{len(pipeline.params)} parameters",
                    f'workflow_dispatch takes at most {MAX_INPUTS} inputs; set `params = "json"` under '
                    "[tool.stepc.gha] to take them as one JSON input",
                )
            )
        found.extend(self.group_timeout_warnings(pipeline))
        for unit in self.units(pipeline):
            loops = {loop_of(pipeline, s) for s in unit.steps}
            if len(loops) > 1:
                found.append(self.group_differs(pipeline, unit, "job", "foreach source"))
        for command in self._install():
            if "${{" in command:
                found.append(self.unsupported(pipeline, None, "an install command with ${{ }}", "use env: instead"))
        return found

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        return [self.lint_error(pipeline, f.path, problem) for f in files for problem in lint_workflow(f.content)]

    # -- settings ---------------------------------------------------------------------------

    def _install(self) -> list[str]:
        value = self.setting("install")
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def _cache_paths(self) -> str | None:
        value = self.setting("cache_dependency_path")
        if value is None:
            return None
        return value if isinstance(value, str) else "\n".join(str(v) for v in value)

    def _default_runs_on(self) -> str | list[str]:
        value = self.setting("runs_on")
        return value if isinstance(value, str) else [str(v) for v in value]

    def _runner(self, step: Step) -> tuple[str | list[str], bool]:
        """Where a step runs, and whether that runner has what it asks for.

        The default runner (``runs_on``, with the capacity of a standard hosted runner unless
        ``default_capacity`` says otherwise) takes every step it can hold; a bigger step goes to
        the first of ``runners`` that holds it, preferring fewer GPUs.
        """
        capacity = {**self.SETTINGS["default_capacity"].default, **dict(self.setting("default_capacity"))}
        labels, found = choose_machine(step.resources, capacity, list(self.setting("runners")), "runs_on")
        if labels is None:
            return self._default_runs_on(), found
        return (labels if isinstance(labels, str) else [str(v) for v in labels]), True

    def units(self, pipeline: Pipeline) -> list[Unit]:
        return list(self.plan(pipeline).units)

    # -- the document -----------------------------------------------------------------------

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        path = f".github/workflows/{file_stem(pipeline.name)}.yml"
        yield path, self.render("gha/workflow.yml.j2", **self.view(pipeline))

    def view(self, pipeline: Pipeline) -> dict[str, Any]:
        plan = self.plan(pipeline)
        json_input = self.setting("params") == "json"
        inputs, spec = dispatch_inputs(pipeline, json_input)
        loop_keys = self._loop_keys(plan)
        common = {
            "STEPC_FLOW": pipeline.source,
            "STEPC_PIPELINE": pipeline.name,
            "STEPC_STORE": STORE,
        }
        jobs: list[JobView] = self.walk(plan)
        if plan.has_rollback:
            jobs.append(
                JobView(
                    kind="rollback",
                    id=ROLLBACK_JOB,
                    name="rollback",
                    needs=[PARAMS_JOB, *[u.name for u in plan.units]],
                    guard="${{ failure() }}",
                    runs_on=self._default_runs_on(),
                    downloads=[ALL_UPLOADS],
                )
            )
        schedule = pipeline.schedule
        return {
            "name": self.deployment_name(pipeline),
            "description": pipeline.description,
            "schedule": CRON_MACROS.get(schedule.strip(), schedule) if schedule else None,
            "inputs": inputs,
            "spec": spec,
            "param_outputs": [(key, name) for name, key in sorted(loop_keys.items())],
            "loops": {key: name for name, key in loop_keys.items()},
            "default_runs_on": self._default_runs_on(),
            "python": str(self.setting("python")),
            "concurrency": str(self.setting("concurrency")),
            "cancel_in_progress": bool(self.setting("cancel_in_progress")),
            "pip_cache": bool(self.setting("pip_cache")),
            "cache_paths": self._cache_paths(),
            "install": self._install(),
            "actions": {repo.split("/")[1]: uses for repo, uses in pinned(dict(self.setting("pins"))).items()},
            "store": STORE,
            "common_env": sorted(common.items()),
            "jobs": jobs,
            "params_script": PARAMS_SCRIPT,
            "rollback_script": ROLLBACK_SCRIPT,
            "retention_days": self.setting("retention_days"),
        }

    def _loop_keys(self, plan: Plan) -> dict[str, str]:
        """List parameter -> the output of the parameters job holding its indices."""
        names = sorted({loop.name for loop in plan.loops if loop.kind == "param"})
        keys = assign_names(names, JOB_ID)
        return {name: f"items-{keys[name]}" for name in names}

    def _max_parallel(self, plan: Plan, unit: Unit) -> int | None:
        """A matrix job's ``max-parallel``: its foreach scopes' bound, and the run's, which
        GitHub can hold only matrix by matrix."""
        bounds = [b for b in (scope_limit(plan.pipeline, unit.first), plan.pipeline.max_parallel) if b is not None]
        return min(bounds, default=None)

    def image_steps(self, plan: Plan) -> list[Step]:
        return [s for u in plan.units if self._container(plan, u) for s in u.steps]

    def _container(self, plan: Plan, unit: Unit) -> str | None:
        """The image of the job's container: its step's own image (not the pipeline's), or with
        container = true, whatever image the step has; None: on the runner, set up by
        setup-python."""
        image = unit.first.image
        return image if self.setting("container") or image != plan.pipeline.image else None

    def _lister_view(self, plan: Plan, unit: Unit) -> JobView:
        """The job listing a nested foreach's index paths as the matrix of its tasks' jobs."""
        run = RunView("paths", f"List the items of {unit.label}", [("STEPC_ITEMS_OF", unit.label)], {}, LISTER_SCRIPT)
        return JobView(
            kind="lister",
            id=unit.name,
            name=f"items of {unit.label}",
            needs=[PARAMS_JOB, *unit.needs],
            guard="${{ !cancelled() && !failure() }}",
            runs_on=self._default_runs_on(),
            container=self._container(plan, unit),
            outputs=[("paths", "${{ steps.paths.outputs.paths }}")],
            downloads=self._ancestor_uploads(plan, unit),
            runs=[run],
        )

    def task_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> JobView:
        if unit.lists is not None:
            return self._lister_view(plan, unit)
        guard = "!cancelled() && !failure()"
        skip_if = self.when_view(plan, unit, done)
        if skip_if is not None:
            guard += f" && {PARAMS_JOB_OK} && ({skip_if})"
        loop = self.loop_view(plan, unit)
        matrix = None
        if loop is not None:
            guard += f" && needs.{loop.source}.result == 'success' && {loop.ref} != '[]'"
            matrix = "${{ fromJSON(" + loop.ref + ") }}"
        outputs = self._output_keys(unit)
        runs: list[RunView] = []
        for index, step in enumerate(unit.steps):
            mine = {key: name for (producer, name), key in outputs.items() if producer == step.name}
            shown = {plan.value_names[(p, name)]: name for p, name in unit.values if p == step.name}
            env = [("STEPC_STEP", step.name)]
            if step.retry.times:
                env.append(("STEPC_RETRY", "1"))
            if shown:
                env.append(("STEPC_VALUE_OUTPUTS", json.dumps(shown, sort_keys=True)))
            script = RUN_SCRIPT + (FEED_SCRIPT if mine else "") + (VALUES_SCRIPT if shown else "")
            runs.append(RunView(f"run-{index + 1}", f"Run {step.name}", env, mine, script, step.secrets))
        published = {**outputs, **{pair: plan.value_names[pair] for pair in unit.values}}
        place = {s.name: i for i, s in enumerate(unit.steps)}
        job_outputs = [
            (key, "${{ steps." + runs[place[producer]].id + ".outputs." + key + " }}")
            for (producer, _), key in sorted(published.items(), key=lambda kv: kv[1])
        ]
        nested = loop is not None and loop.nested
        item = ("${{ matrix.item.path }}" if nested else "${{ matrix.item }}") if matrix else None
        leg = "${{ matrix.item.key }}" if nested else item  # an artifact name holds no slash
        paths = [f"{STORE}/runs/*/{store_segment(s.name)}" + (f"/items/{item}" if item else "") for s in unit.steps]
        timeout = None
        if unit.worst_seconds is not None:
            timeout = math.ceil(unit.worst_seconds / 60) + int(self.setting("setup_minutes"))
        return JobView(
            kind="step",
            id=unit.name,
            name=" + ".join(s.name for s in unit.steps),
            needs=[PARAMS_JOB, *unit.needs],
            guard="${{ " + guard + " }}",
            runs_on=self.resources_view(plan, unit),
            environment=self.unit_setting(unit, "environment"),
            container=self._container(plan, unit),
            timeout=timeout,
            matrix=matrix,
            max_parallel=self._max_parallel(plan, unit) if matrix else None,
            outputs=job_outputs,
            item=item,
            downloads=self._ancestor_uploads(plan, unit),
            runs=runs,
            artifact=f"stepc.{unit.name}" + (f".{leg}" if leg else ""),
            paths="\n".join(paths),
        )

    @staticmethod
    def _ancestor_uploads(plan: Plan, unit: Unit) -> list[str]:
        """The download pattern of a job: the uploads of the ancestors whose results its steps
        read (:meth:`Plan.reads`) and of no other job (a job running beside it may have
        uploaded too). An ancestor outside every fan-out uploads ``stepc.<job>``, one inside
        uploads ``stepc.<job>.<item>`` per leg; listers upload nothing. download-artifact
        matches with minimatch, which expands ``{a,b.*}`` into alternatives (job ids hold no
        ``,``, ``.``, ``{`` or ``}``)."""
        uploaders = [plan.unit(name) for name in plan.reads(unit)]
        names = [u.name + (".*" if u.loops else "") for u in uploaders if u.lists is None]
        if not names:
            return []
        return ["stepc." + (names[0] if len(names) == 1 else "{" + ",".join(names) + "}")]

    def when_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> str | None:
        """The necessary condition for ``if:``, reading only values published by a job this one
        needs directly (GitHub's `needs` has no others); a group's job can be skipped only when
        every step in it would be."""
        if unit.condition is None:
            return None
        needs = set(unit.needs)
        readable = {}
        for ref in artifact_refs(unit.condition):
            key = (ref.step, ref.name)
            if key in plan.value_names and plan.owner[ref.step].name in needs:
                readable[key] = f"needs.{plan.owner[ref.step].name}.outputs.{plan.value_names[key]}"
        return job_condition(unit.condition, plan.params, readable)

    def loop_view(self, plan: Plan, unit: Unit) -> MatrixView | None:
        """The job output holding the indices the matrix runs over: the parameters job's for a
        list parameter, the producer job's for an output."""
        loop = unit.loop
        if loop is None:
            return None
        if loop.kind == "param":
            source, key = PARAMS_JOB, self.per_plan(plan, "loop_keys", self._loop_keys)[loop.name]
        elif loop.kind == "paths":
            source = plan.lister(loop).name
            return MatrixView(source, f"needs.{source}.outputs.paths", nested=True)
        else:
            assert loop.producer is not None
            producer = plan.owner[loop.producer]
            source, key = producer.name, self._output_keys(producer)[(loop.producer, loop.name)]
        return MatrixView(source, f"needs.{source}.outputs.{key}")

    def resources_view(self, plan: Plan, unit: Unit) -> str | list[str]:
        """The runner: the steps' own (``engine=``), else the one a step needs beyond the
        default, else the default."""
        own = unit_value(unit, self.NAME, "runs_on", None)
        if own is not None:
            return own if isinstance(own, str) else [str(v) for v in own]
        runs_on, _ = max(
            (self._runner(s) for s in unit.steps), key=lambda r: (r[0] != self._default_runs_on(), str(r[0]))
        )
        return runs_on

    @staticmethod
    def _output_keys(unit: Unit) -> dict[tuple[str, str], str]:
        """(step, artifact) -> the job output that publishes the artifact's item indices."""
        keys = assign_names([f"{s}-{a}" for s, a in unit.feeds], JOB_ID)
        return {(s, a): f"items-{keys[f'{s}-{a}']}" for s, a in unit.feeds}
