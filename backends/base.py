"""What every code generator shares: the plan and the walk over it, capability checks (against
:mod:`features`), the header, template rendering (printing only what :mod:`quoting` made) and
the lint hook.

A target is a :class:`Backend` subclass that declares its capabilities (``FEATURES``), how it
names tasks (``NAMES``), its filters, and implements :meth:`Backend.documents` with the hooks
:meth:`Backend.walk` calls per unit of the plan (``task_view``, ``loop_view``, ``when_view``,
``resources_view``), each returning a frozen view its template renders; everything else is
here, once (the shape of sqlglot's dialects).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import jinja2

from stepc import __version__
from stepc.collector import collector_paused
from stepc.config import DEFAULT_IMAGE, Config, deployed_branch
from stepc.diagnostics import Diagnostic, Severity, is_error
from stepc.ir import Pipeline, Step

from .features import CACHE_NOTE, FEATURE_TEXT, MISSING_REASON, Support, pipeline_features, step_features
from .naming import NameRule
from .plan import NameScheme, Plan, Unit, build_plan
from .quoting import BASE_FILTERS, Quoted, comment_text
from .settings import Setting, check_settings
from .step_settings import check_step_settings, check_unit_agrees, unit_value

T = TypeVar("T")


def _finalize(value: Any) -> Any:
    if isinstance(value, Quoted):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise jinja2.TemplateError(f"template printed an unquoted value {value!r}: pass it through a quoting filter")


# Where a target's templates load from: the name of an installed package (its templates ship
# as package data, found wherever the package is installed, zipped or not) or a directory.
TemplateSource = str | Path
BUILTIN_TEMPLATES = "stepc.templates"


class TemplateBug(Exception):
    """A template failed to render: printed an unquoted value, read an undefined name, ..."""

    def __init__(self, template: str, error: jinja2.TemplateError) -> None:
        super().__init__(f"{template}: {error.message or type(error).__name__}")
        self.template = template


def _loader(source: TemplateSource) -> jinja2.BaseLoader:
    if isinstance(source, Path):
        return jinja2.FileSystemLoader(source)
    return jinja2.PackageLoader(source, "")


@cache
def _environment(
    source: TemplateSource, filters_key: tuple[tuple[str, Callable[..., Quoted]], ...]
) -> jinja2.Environment:
    # One environment per template source and filter table: every one prints through the
    # same finalize guard, so a plugin's templates cannot print unquoted text either.
    env = jinja2.Environment(
        loader=_loader(source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters.update(dict(filters_key))
    return env


# --- the backend --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedFile:
    """One output file: ``path`` is relative to the output directory."""

    path: str
    content: str


def file_stem(name: str) -> str:
    """A pipeline name made safe as a file name on every OS."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "pipeline"
    return stem[:100]


class Backend:
    """A code generator for one target. Subclasses set the class attributes and :meth:`documents`.

    Capabilities are data: ``FEATURES`` lists the features of :data:`FEATURE_TEXT` the target
    compiles, ``PARTIAL`` those of them it honours only in part (feature -> what the engine does
    instead, the text of the T101 warning); a feature not in ``FEATURES`` is a T101 error at the
    step. Both describe the target with its default settings, as ``stepc targets`` prints them;
    :meth:`partial` may lift a feature that a project's settings make whole. Checks that depend
    on a value (a list too long for the engine, say) are small hooks in ``check_capabilities``.
    """

    NAME: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    FEATURES: ClassVar[frozenset[str]] = frozenset()
    PARTIAL: ClassVar[dict[str, str]] = {"cache": CACHE_NOTE}
    # The `[tool.stepc.<target>]` keys: every read goes through `setting`, every key is checked.
    SETTINGS: ClassVar[dict[str, Setting]] = {}
    FILTERS: ClassVar[dict[str, Callable[..., Quoted]]] = BASE_FILTERS
    COMMENT: ClassVar[str] = "#"
    # The package (or directory) that :meth:`render` loads templates from. The built-in targets
    # keep theirs in stepc.templates/<target>/; a plugin names its own package.
    TEMPLATES: ClassVar[TemplateSource] = BUILTIN_TEMPLATES
    # How the target names its tasks (see `plan.NameScheme`).
    NAMES: ClassVar[NameScheme] = NameScheme(NameRule(63, re.compile(r"[^a-z0-9-]")))

    def deployment_name(self, pipeline: Pipeline) -> str:
        """What the engine calls the pipeline: its name, or Metaflow's
        ``<project>.<branch>.<name>`` for a ``@project`` flow."""
        if pipeline.project is None:
            return pipeline.name
        return f"{pipeline.project}.{deployed_branch(self.config)}.{pipeline.name}"

    def __init__(self, config: Config, options: dict[str, Any] | None = None) -> None:
        self.config = config
        self.settings: dict[str, Any] = {**config.section(self.NAME), **(options or {})}
        self._plans: dict[int, tuple[Pipeline, Plan]] = {}
        self._tables: dict[tuple[int, str], tuple[Plan, Any]] = {}

    @classmethod
    def support(cls, feature: str) -> Support:
        """What the tables say of ``feature``: yes, partial (a T101 warning) or no (a T101 error)."""
        if feature not in cls.FEATURES:
            return "no"
        return "partial" if feature in cls.PARTIAL else "yes"

    def partial(self) -> dict[str, str]:
        """The PARTIAL table in force with this project's settings."""
        return self.PARTIAL

    # The common walk: settings and capabilities first, then the documents, then the target's lint.
    def compile(self, pipeline: Pipeline) -> tuple[list[GeneratedFile], list[Diagnostic]]:
        with collector_paused():
            diagnostics = check_settings(self.config, self.NAME, self.SETTINGS)
            if not is_error(diagnostics):
                diagnostics.extend(self.check_capabilities(pipeline))
            if is_error(diagnostics):
                return [], diagnostics
            try:
                files = [GeneratedFile(path, self.header(pipeline) + body) for path, body in self.documents(pipeline)]
            except TemplateBug as bug:
                return [], [*diagnostics, self.template_error(pipeline, bug)]
            diagnostics.extend(self.lint(pipeline, files))
            return files, diagnostics

    def check_capabilities(self, pipeline: Pipeline) -> list[Diagnostic]:
        """T101 from the tables: an error at each step using a feature not in FEATURES, one
        warning per partial feature (at its first step), and each step's value checks
        (:meth:`check_step`); targets add their pipeline-wide checks."""
        found = []
        partial = self.partial()
        uses: dict[str, list[Step]] = {}
        plan = self.plan(pipeline)
        for step in plan.steps:
            found.extend(check_step_settings(pipeline, step, self.NAME, self.SETTINGS))
            found.extend(self.check_step(plan, step))
            for feature in step_features(pipeline, step):
                if feature not in self.FEATURES:
                    found.append(self.unsupported(pipeline, step, feature))
                elif feature in partial:
                    uses.setdefault(feature, []).append(step)
        runs_in = self.unit_runs_in()
        for unit in plan.units:
            found.extend(check_unit_agrees(pipeline, unit, self.NAME, self.SETTINGS))
            if runs_in is not None and len({s.image for s in unit.steps}) > 1:
                found.append(self.group_differs(pipeline, unit, runs_in, "image"))
        for feature, steps in uses.items():
            others = f" (and {len(steps) - 1} more)" if len(steps) > 1 else ""
            message = f"step '{steps[0].name}'{others} uses {FEATURE_TEXT[feature]}: {partial[feature]} ({self.NAME})"
            found.append(self.warning(pipeline, steps[0], message))
        found.extend(self.default_image_warning(pipeline, self.image_steps(plan)))
        for feature in pipeline_features(pipeline):
            if feature not in self.FEATURES:
                found.append(self.unsupported(pipeline, None, feature))
            elif feature in partial:
                message = f"pipeline '{pipeline.name}' has {FEATURE_TEXT[feature]}: {partial[feature]} ({self.NAME})"
                found.append(self.warning(pipeline, None, message))
        return found

    def unit_runs_in(self) -> str | None:
        """What the steps of one unit (a group) run in on this target, when that has one image
        (``"pod"``, ``"job"``, ...); None when they run in the engine's own environment."""
        return None

    def group_differs(self, pipeline: Pipeline, unit: Unit, runs_in: str, what: str) -> Diagnostic:
        """T101 for a group whose steps differ in ``what`` (an image, a foreach source), which
        the one ``runs_in`` they share can hold only one of."""
        detail = f"the steps of group '{unit.first.group}' run in one {runs_in}, so they need one {what}"
        return self.unsupported(pipeline, unit.steps[1], "group", detail)

    def image_steps(self, plan: Plan) -> list[Step]:
        """The steps this target runs in a container of their image (none: on a worker or
        runner of the engine's own)."""
        return []

    def default_image_warning(self, pipeline: Pipeline, steps: list[Step]) -> list[Diagnostic]:
        """One T101 warning for the steps that run in the default image, which holds neither
        stepc nor the project, so nothing runs there; it lists them and says the fix."""
        defaulted = [s for s in steps if s.image == DEFAULT_IMAGE]
        if not defaulted:
            return []
        names = ", ".join(f"'{s.name}'" for s in defaulted[:3])
        more = f" (and {len(defaulted) - 3} more)" if len(defaulted) > 3 else ""
        which = "step" if len(defaulted) == 1 else "steps"
        run = "runs" if len(defaulted) == 1 else "run"
        message = (
            f"{which} {names}{more} {run} in the default image {DEFAULT_IMAGE}, which holds neither stepc nor the "
            "project: build one with `stepc image` and name it with image= on the step or the pipeline, or "
            f"[tool.stepc] image ({self.NAME})"
        )
        return [self.warning(pipeline, defaulted[0], message)]

    def check_step(self, plan: Plan, step: Step) -> list[Diagnostic]:
        """A target's checks of one step's values (a backoff the engine refuses, a name it
        cannot hold, ...), in the one walk over the steps; none by default."""
        return []

    def unsupported(self, pipeline: Pipeline, step: Step | None, feature: str, detail: str = "") -> Diagnostic:
        """The error for a feature this target cannot express, at the step's definition."""
        what = f"step '{step.name}' uses" if step else f"pipeline '{pipeline.name}' has"
        message = f"{what} {FEATURE_TEXT.get(feature, feature)}, which the {self.NAME} target cannot express"
        detail = detail or MISSING_REASON.get(feature, "")
        return self.at_step(pipeline, step, message + (f": {detail}" if detail else ""))

    def partly_supported(self, pipeline: Pipeline, step: Step, feature: str, detail: str) -> Diagnostic:
        """A value hook's T101 warning: this use of a feature maps only in part."""
        return dataclasses.replace(self.unsupported(pipeline, step, feature, detail), severity="warning")

    def group_timeout_warnings(self, pipeline: Pipeline) -> list[Diagnostic]:
        """For targets that run a group as one task: a group where only some steps have a
        timeout gets none (the task's limit is the sum of its steps'), which is said here."""
        groups: dict[str, list[Step]] = {}
        for step in pipeline.steps:
            if step.group:
                groups.setdefault(step.group, []).append(step)
        found = []
        for name, steps in groups.items():
            timeouts = [s.timeout for s in steps]
            if None in timeouts and any(t is not None for t in timeouts):
                detail = f"group '{name}' runs as one task, whose timeout needs every step's"
                found.append(self.partly_supported(pipeline, steps[0], "timeout", detail))
        return found

    def warning(self, pipeline: Pipeline, step: Step | None, message: str) -> Diagnostic:
        """A T101 warning: something the target maps only in part, said out loud, not dropped."""
        return self.at_step(pipeline, step, message, "warning")

    @staticmethod
    def at_step(pipeline: Pipeline, step: Step | None, message: str, severity: Severity = "error") -> Diagnostic:
        """A T101 diagnostic at the step's definition, or at the flow's first line."""
        span = step.span if step else None
        return Diagnostic(
            "T101",
            message,
            span.file if span else pipeline.source,
            span.line if span else 1,
            span.col if span else 1,
            severity=severity,
        )

    def header(self, pipeline: Pipeline) -> str:
        c = self.COMMENT
        source = comment_text(pipeline.source)
        return (
            f"{c} Generated by stepc {__version__} from {source} (pipeline {comment_text(pipeline.name)}).\n"
            f"{c} Do not edit: change the flow and run `stepc compile`.\n"
        )

    def render(self, template: str, **context: Any) -> str:
        """``template`` (a path inside :attr:`TEMPLATES`) rendered with the target's filters;
        a template that fails raises :class:`TemplateBug`, reported by :meth:`compile`."""
        env = _environment(self.TEMPLATES, tuple(sorted(self.FILTERS.items())))
        try:
            return env.get_template(template).render(**context)
        except jinja2.TemplateError as exc:
            raise TemplateBug(template, exc) from exc

    def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
        """(relative path, content without header) for each file of the pipeline."""
        raise NotImplementedError

    def lint(self, pipeline: Pipeline, files: list[GeneratedFile]) -> list[Diagnostic]:
        """The target's own checks of what was generated; empty when clean."""
        return []

    def lint_error(self, pipeline: Pipeline, path: str, message: str) -> Diagnostic:
        return Diagnostic("T201", f"generated {path} fails the {self.NAME} lint: {message}", pipeline.source)

    def template_error(self, pipeline: Pipeline, bug: TemplateBug) -> Diagnostic:
        """A template that failed: a bug in the backend (built-in or plugin), said as a diagnostic."""
        return Diagnostic("T201", f"{bug} (a bug in the {self.NAME} backend's templates)", pipeline.source)

    def setting(self, key: str) -> Any:
        """A ``[tool.stepc.<target>]`` setting (flags override), or its declared default."""
        value = self.settings.get(key)
        return self.SETTINGS[key].default if value is None else value

    def unit_setting(self, unit: Unit, key: str) -> Any:
        """A setting a step may set for itself (``engine=``): the task's steps' value, else
        :meth:`setting`."""
        return unit_value(unit, self.NAME, key, self.setting(key))

    # -- the plan and the walk over it ---------------------------------------------------------

    def plan(self, pipeline: Pipeline) -> Plan:
        """The pipeline's plan for this target, computed once (the checks and the documents
        both read it)."""
        cached = self._plans.get(id(pipeline))
        if cached is None or cached[0] is not pipeline:
            cached = (pipeline, build_plan(pipeline, self.NAMES))
            self._plans[id(pipeline)] = cached
        return cached[1]

    def per_plan(self, plan: Plan, name: str, make: Callable[[Plan], T]) -> T:
        """A table the target derives from the whole plan (names of published lists, say),
        made once per plan however many hooks read it."""
        cached = self._tables.get((id(plan), name))
        if cached is None or cached[0] is not plan:
            cached = (plan, make(plan))
            self._tables[(id(plan), name)] = cached
        return cast(T, cached[1])

    def walk(self, plan: Plan) -> list[Any]:
        """The common walk: one task view per unit, in plan order. ``task_view`` makes it from
        the hooks' views; ``done`` holds the views of the units before it."""
        done: dict[str, Any] = {}
        for unit in plan.units:
            done[unit.name] = self.task_view(plan, unit, done)
        return list(done.values())

    def task_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> Any:
        """The view of one task (a frozen dataclass its template renders)."""
        raise NotImplementedError

    def loop_view(self, plan: Plan, unit: Unit) -> Any:
        """How the task fans out over its loops' items; None outside every loop."""
        return None

    def when_view(self, plan: Plan, unit: Unit, done: dict[str, Any]) -> Any:
        """What the engine can test of the unit's condition before starting it; None: nothing."""
        return None

    def resources_view(self, plan: Plan, unit: Unit) -> Any:
        """What the task asks of the machine that runs it."""
        return None
