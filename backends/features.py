"""What a pipeline asks of a target: the one list of features, and which of them a step or the
pipeline uses (``stepc targets`` and each target's capability check read it)."""

from __future__ import annotations

from typing import Literal

from stepc.ir import Pipeline, Step, condition_artifacts

# The one list of features. Adding one is a row here, a line in `step_features` (or, for the
# pipeline as a whole, in `pipeline_features`), and an entry in each target's FEATURES (and
# PARTIAL, when the target honours it only in part); tests/test_capabilities.py then wants a
# flow tests/flows/features/<feature>.py that uses it.
FEATURE_TEXT: dict[str, str] = {
    "foreach": "foreach over an upstream list",
    "foreach_param": "foreach over a list parameter",
    "chained_map": "a chained map (foreach over a foreach step's results)",
    "condition": "a `when` condition",
    "artifact_condition": "a condition on an upstream artifact",
    "merge": "an optional input (merge of branches)",
    "retry": "retries",
    "retry_delay": "a delay between retries",
    "retry_backoff": "a retry backoff factor",
    "timeout": "a timeout",
    "resources": "resource requests",
    "gpu": "GPUs",
    "image": "an image of its own",
    "rollback": "a rollback function",
    "group": "a step group",
    "cache": "caching",
    "after": "ordering edges (after=)",
    "schedule": "a schedule",
    "branch_in_foreach": "static branches and their join inside a foreach",
    "nested_foreach": "a foreach inside a foreach",
    "switch_in_foreach": "a switch or condition decided for each foreach item",
    "recursive_switch": "a switch case going back to its own step (a loop of passes)",
    "max_parallel": "a bound on a fan-out's items at once (max_parallel)",
    "run_max_parallel": "a bound on a run's tasks at once (pipeline max_parallel)",
}

ALL_FEATURES = frozenset(FEATURE_TEXT)
# What an engine whose tasks form a graph without cycles cannot run (Argo's templates can recurse).
ACYCLIC_FEATURES = ALL_FEATURES - {"recursive_switch"}
# Why a target lacks a feature, where the feature's text does not say it.
MISSING_REASON: dict[str, str] = {
    "recursive_switch": "its tasks form a graph without cycles, so no task can run again after itself "
    "(`stepc run`, `stepc exec --iteration N` and the argo target run the passes)",
}

Support = Literal["yes", "partial", "no"]

# Every engine runs `stepc exec`, which has no cache of its own: the note of all four targets.
CACHE_NOTE = "only `stepc run` reuses stored results; on this engine every run computes the step"


def step_features(pipeline: Pipeline, step: Step) -> list[str]:
    """The features of :data:`FEATURE_TEXT` that ``step`` uses, in table order."""
    used: set[str] = set()
    if step.foreach is not None:
        used.add("foreach" if step.foreach.source == "input" else "foreach_param")
        for item in step.inputs:
            if item.mode == "item" and pipeline.step(item.producer).foreach is not None:
                used.add("chained_map")
    if step.condition is not None:
        used.add("artifact_condition" if condition_artifacts(step.condition) else "condition")
    if any(i.optional for i in step.inputs):
        used.add("merge")
    if step.retry.times:
        used.add("retry")
        if step.retry.delay:
            used.add("retry_delay")
        if step.retry.backoff != 1:
            used.add("retry_backoff")
    if step.timeout is not None:
        used.add("timeout")
    r = step.resources
    if r.cpu is not None or r.memory is not None or r.disk is not None:
        used.add("resources")
    if r.gpu:
        used.add("gpu")
    if step.image != pipeline.image:
        used.add("image")
    if step.rollback:
        used.add("rollback")
    if step.group:
        used.add("group")
    if step.cache != "none":
        used.add("cache")
    if step.after:
        used.add("after")
    if step.repeat is not None:
        used.add("recursive_switch")
    if step.max_parallel is not None:  # the flow's or the project's (the default of 100 is not a use)
        used.add("max_parallel")
    used.update(scope_features(pipeline, step))
    return [f for f in FEATURE_TEXT if f in used]


def pipeline_features(pipeline: Pipeline) -> list[str]:
    """The features of :data:`FEATURE_TEXT` that the pipeline itself (not a step) uses."""
    used = {"schedule": pipeline.schedule is not None, "run_max_parallel": pipeline.max_parallel is not None}
    return [f for f, uses in used.items() if uses]


def scope_features(pipeline: Pipeline, step: Step) -> set[str]:
    """What a step inside a foreach scope asks beyond a chain of steps: another foreach (said
    at the inner scope's head), a fan-out that stays in the scope, or a condition that reads
    an artifact of the item (so each item decides)."""
    if not step.scope:
        return set()
    used: set[str] = set()
    if step.depth > 1 and step.scope[-1] == step.name:
        used.add("nested_foreach")
    if any(pipeline.step(ref.step).scope for ref in condition_artifacts(step.condition)):
        used.add("switch_in_foreach")
    elif step.kind == "flowspec" and len([p for p in step.after if pipeline.step(p).scope == step.scope]) > 1:
        used.add("branch_in_foreach")  # a join of branches inside the scope
    return used
