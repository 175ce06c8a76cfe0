"""The decorators of a flow class and of its steps, as Metaflow's map to stepc.

* On the class: ``@schedule`` (the pipeline's schedule) and ``@project(name=)``; others are
  W203 and ignored.
* On a step: the mapped decorators (``@retry``, ``@timeout``, ``@resources``, ``@catch``,
  ``@environment``, ...: :data:`~stepc.frontend.flowsettings.STEP_DECORATORS`) and stepc's own
  ``@engine``; others are W203 and ignored.
* A FlowMutator/StepMutator of the module used as a decorator is W203 too: stepc runs nothing
  of a flow to read it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from stepc.frontend import arguments as args
from stepc.frontend import engine
from stepc.frontend.flowsettings import SCHEDULES, STEP_DECORATORS, StepSettings
from stepc.frontend.imports import FLOW_LIBRARIES, ImportTable

if TYPE_CHECKING:
    from stepc.frontend.flowclass import ClassDialect

PROJECT_NAME = re.compile(r"[a-z0-9_]{1,128}")
MUTATOR_BASES = ("FlowMutator", "StepMutator")


def mutator_base(imports: ImportTable, cls: cst.ClassDef) -> str | None:
    """``"StepMutator"`` for a class based on Metaflow's (``metaflow.StepMutator`` or the
    module that defines it, ``metaflow.user_decorators.user_step_decorator``), else None."""
    for base in cls.bases:
        qualified = imports.qualify(base.value) or ""
        library, _, rest = qualified.partition(".")
        if library in FLOW_LIBRARIES and rest.rpartition(".")[2] in MUTATOR_BASES:
            return rest.rpartition(".")[2]
    return None


def report_mutator(dialect: ClassDialect, decorator: cst.Decorator) -> None:
    """A decorator naming one of the module's FlowMutator/StepMutator classes is W203: a
    mutator rewrites the flow in Python when the class is built, and stepc runs nothing of
    the flow to read it, so what the mutator changes is missing from what stepc compiles
    (a warning: many mutators change only what stepc ignores anyway, such as @kubernetes)."""
    target = decorator.decorator
    name = target.func if isinstance(target, cst.Call) else target
    if isinstance(name, cst.Name) and name.value in dialect.mutators:
        message = (
            f"@{name.value} is a Metaflow {dialect.mutators[name.value]}: mutators change the flow in Python when"
            " its class is built, which stepc does not do (it reads flows statically): it is ignored"
        )
        dialect.report("W203", message, target, "warning")


def class_decorators(dialect: ClassDialect, cls: cst.ClassDef) -> tuple[str | None, str | None]:
    """The flow's schedule (``@schedule``) and project (``@project(name=)``)."""
    schedule = project = None
    for decorator in cls.decorators:
        name = dialect.decorator_api(decorator)
        if name is None:
            report_mutator(dialect, decorator)
            continue
        call = decorator.decorator if isinstance(decorator.decorator, cst.Call) else None
        if name == "project" and call is not None:
            project = read_project(dialect, call)
            continue
        if name != "schedule" or call is None:
            dialect.report(
                "W203",
                f"@{name} on a flow class is not supported by stepc: it is ignored",
                decorator.decorator,
                "warning",
            )
            continue
        values = dialect.read_arguments(call, ("cron", "hourly", "daily", "weekly"), "@schedule")
        chosen = [k for k, (v, _) in values.items() if v]
        if len(chosen) != 1:
            dialect.report("S113", "@schedule needs exactly one of cron=, hourly=, daily=, weekly=", call)
            continue
        value, node = values[chosen[0]]
        schedule = (
            dialect.checked(args.read_schedule, value, node, "cron") if chosen[0] == "cron" else SCHEDULES[chosen[0]]
        )
    return schedule, project


def read_project(dialect: ClassDialect, call: cst.Call) -> str | None:
    """``@project(name="fraud")``: lowercase letters, digits and underscores, as in Metaflow."""
    values = dialect.read_arguments(call, ("name",), "@project", positional=("name",))
    if "name" not in values:
        dialect.report("S139", "@project needs a name: @project(name='some_name')", call)
        return None
    name, node = values["name"]
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        message = "the @project name is 1 to 128 lowercase letters, digits and underscores (as in Metaflow)"
        dialect.report("S139", message, node)
        return None
    return name


def step_settings(dialect: ClassDialect, method: cst.FunctionDef) -> StepSettings:
    settings = StepSettings()
    for decorator in method.decorators:
        api = dialect.decorator_api(decorator)
        if api is None:
            report_mutator(dialect, decorator)
        if api is None or api == "step":
            continue
        target = decorator.decorator
        if api == "engine":
            read_engine(dialect, target, settings)
            continue
        if api not in STEP_DECORATORS:
            dialect.report("W203", f"@{api} is not supported by stepc: it is ignored", target, "warning")
            continue
        call = target if isinstance(target, cst.Call) else cst.Call(func=target)
        reported = len(dialect.diagnostics)
        values = dialect.read_arguments(call, STEP_DECORATORS[api], f"@{api}")
        if not any(d.severity == "error" for d in dialect.diagnostics[reported:]):  # else judging adds noise
            dialect.checked(settings.apply, api, values, target)
    dialect.checked(settings.size, method.name)
    return settings


def read_engine(dialect: ClassDialect, target: cst.BaseExpression, settings: StepSettings) -> None:
    """``@engine(argo={...}, gha={...}, secrets=[...])``: stepc's own decorator (Metaflow has
    none), so an unknown keyword is an error, not a warning."""
    if not isinstance(target, cst.Call):
        dialect.report("S103", "@engine takes the settings of each target: @engine(argo={...})", target)
        return
    named = tuple(a.keyword.value for a in target.args if a.keyword is not None)
    values = dialect.read_arguments(target, named, "@engine")
    secrets = values.pop("secrets", None)
    keywords = {a.keyword.value: a.keyword for a in target.args if a.keyword is not None}
    entries = [(name, value, keywords[name], node) for name, (value, node) in values.items()]
    span_of = engine.spans(dialect.source, dialect.rel_path)
    settings.engine = dialect.checked(engine.read_targets, entries, span_of) or ()
    if secrets is not None:
        settings.secrets = dialect.checked(engine.read_secrets, *secrets, settings.env) or ()
