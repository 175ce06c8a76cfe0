"""A recursive switch on Argo: the step's task calls a DAG template that runs one pass (``stepc
exec --iteration N``) and, while the case that pass published goes back, calls itself for pass
N+1; the calling task ends with the last pass, and the steps after it read that pass's results
from the store (their own ``stepc exec`` decides their condition)."""

from __future__ import annotations

from stepc.ir import Step
from stepc.runtime.plan import artifact_refs

from .argo_expr import exact_when, task_output
from .argo_scopes import DagView
from .argo_views import DNS_LABEL, RESERVED_TEMPLATES, TaskView
from .naming import assign_names
from .plan import Plan, Unit

ITERATION = "{{inputs.parameters.iteration}}"
NEXT_ITERATION = "{{=asInt(inputs.parameters.iteration) + 1}}"
PASS_TASK = "pass"  # the task running one pass inside the DAG template


def passes_name(plan: Plan, unit: Unit) -> str:
    """The name of the DAG template running a recursive switch's passes: apart from every
    unit's template and the reserved ones."""
    taken = frozenset(u.name for u in plan.units) | RESERVED_TEMPLATES
    wanted = "\0passes_" + unit.name
    return assign_names([wanted], DNS_LABEL, taken)[wanted]


def repeat_when(plan: Plan, step: Step) -> str | None:
    """The next pass's ``when``: the values the pass just published, compared exactly."""
    assert step.repeat is not None
    values = {
        (ref.step, ref.name): task_output(PASS_TASK, plan.value_names[(ref.step, ref.name)])
        for ref in artifact_refs(step.repeat)
        if (ref.step, ref.name) in plan.value_names
    }
    return exact_when(step.repeat, plan.params, values)


def passes_dag(plan: Plan, unit: Unit) -> DagView:
    """A recursive switch: pass N runs the step's container; while the case it chose goes
    back, the template calls itself for pass N+1. The calling task ends with the last pass."""
    name = passes_name(plan, unit)
    run = TaskView(PASS_TASK, unit.name, None, None, None, iteration=ITERATION)
    again = TaskView("next", name, PASS_TASK, repeat_when(plan, unit.first), None, iteration=NEXT_ITERATION)
    return DagView(name, False, [run, again], takes_iteration=True)
