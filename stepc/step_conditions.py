"""The names in a function step's ``when``, against the pipeline (SPEC §2.4).

A name that is one of the step's inputs reads its producer's output (an
:class:`~stepc.ir.ArtifactRef`, decided at run time, as a class-dialect switch on a computed
attribute is); any other name must be a pipeline parameter. So ``when="score > threshold"``
compares an upstream output with a parameter. The checks here run before the pipeline is
wired; :func:`read_problems` needs the wired inputs (their modes) and runs after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from stepc.condition_types import OperandType, condition_type_problems
from stepc.declarations import StepDecl, WhenDecl
from stepc.diagnostics import did_you_mean
from stepc.ir import (
    ArtifactRef,
    BoolOp,
    Compare,
    Condition,
    Input,
    Not,
    Operand,
    Parameter,
    ParamRef,
    Step,
    condition_artifacts,
    fold,
)


@dataclass(frozen=True)
class Problem:
    """A diagnostic to make at ``anchor`` (a place the dialect reader knows)."""

    code: str
    message: str
    anchor: object


def resolved(step: StepDecl, producers: Mapping[str, StepDecl]) -> Condition | None:
    """The step's own condition, each name of an input with a producer turned into that
    producer's output; None when the step has no ``when``."""
    if step.when is None:
        return None
    inputs = {i.value for i in step.inputs}

    def operand(o: Operand) -> Operand:
        if isinstance(o, ParamRef) and o.name in inputs and o.name in producers:
            return ArtifactRef(producers[o.name].name.value, o.name)
        return o

    def compare(c: Compare) -> Condition:
        return Compare(c.op, operand(c.left), operand(c.right))

    def bool_op(c: BoolOp, parts: Iterator[Condition]) -> Condition:
        return BoolOp(c.op, tuple(parts))

    def not_(_: Not, inner: Condition) -> Condition:
        return Not(inner)

    return fold(step.when.condition, compare, bool_op, not_)


def when_problems(step: StepDecl, params: Mapping[str, Parameter], producers: Mapping[str, StepDecl]) -> list[Problem]:
    """S111 for a name that is neither a parameter nor an input, S143 for a comparison that
    cannot hold for the types of a parameter or of an annotated output."""
    when = step.when
    if when is None:
        return []
    problems: list[Problem] = []
    condition = resolved(step, producers)
    assert condition is not None
    types = _artifact_types(step, condition, producers)
    for name, message in condition_type_problems(condition, params, types):
        problems.append(Problem("S143", message, _anchor(when, name)))
    inputs = [i.value for i in step.inputs]
    for use in when.names:
        if use.value in params or use.value in inputs:
            continue
        producer = producers.get(use.value)
        if producer is not None and producer is not step:
            hint = f": it is an output of step '{producer.name.value}', add it to inputs=[...] to read it"
        else:
            hint = did_you_mean(use.value, sorted(params) + inputs)
        message = (
            f"'{use.value}' in the condition of step '{step.name.value}' is not a pipeline parameter "
            f"or an input of the step{hint}"
        )
        problems.append(Problem("S111", message, use.anchor))
    return problems


def read_problems(
    step: StepDecl, condition: Condition | None, inputs: tuple[Input, ...], scope: tuple[str, ...],
    built: Mapping[str, Step],
) -> list[Problem]:  # fmt: skip
    """S110 for an input a condition cannot read as one value: the list of a foreach step's
    results (its consumer sees them gathered), or the list this foreach runs over, or one of
    the foreach it opens inside (each task sees one item, the producer made the whole list);
    and for a gather of a foreach step whose items a condition skips one by one."""
    by_name = {i.name: i for i in inputs}
    problems = [] if step.when is None else _value_problems(step, step.when, condition, by_name, scope, built)
    for named in step.inputs:
        inp = by_name.get(named.value)
        if inp is None or inp.mode != "gather" or not _skips_items(built[inp.producer], built):
            continue
        message = (
            f"step '{step.name.value}' gathers '{inp.name}' from foreach step '{inp.producer}', whose condition "
            f"skips items one by one, so some items have no '{inp.name}': merge first, in a chained map of the "
            f"same foreach whose '{inp.name}' parameter defaults to None"
        )
        problems.append(Problem("S110", message, named.anchor))
    return problems


def _value_problems(
    step: StepDecl, when: WhenDecl, condition: Condition | None, by_name: Mapping[str, Input],
    scope: tuple[str, ...], built: Mapping[str, Step],
) -> list[Problem]:  # fmt: skip
    """S110 for each input the step's own condition reads that is a list rather than one value."""
    problems: list[Problem] = []
    for ref in dict.fromkeys(condition_artifacts(condition)):
        inp = by_name.get(ref.name)
        if inp is None or inp.producer != ref.step:
            continue
        if inp.mode == "gather":
            message = (
                f"the condition of step '{step.name.value}' reads '{ref.name}', the list of the results of foreach "
                f"step '{ref.step}', but a condition compares one value: compute it in a step after '{ref.step}' "
                "and read that"
            )
        elif inp.mode == "item" and built[ref.step].scope != scope:
            message = (
                f"the condition of step '{step.name.value}' reads '{ref.name}', which this step runs over item by "
                f"item, but a condition reads what '{ref.step}' made as a whole: decide on the item in a chained map "
                "before this step, or inside it"
            )
        else:
            continue
        problems.append(Problem("S110", message, _anchor(when, ref.name)))
    return problems


def _skips_items(producer: Step, built: Mapping[str, Step]) -> bool:
    """Whether the producer's condition reads a value made per item of its innermost foreach
    (a value of an outer item decides for all the items under it alike)."""
    return any(built[r.step].depth >= producer.depth for r in condition_artifacts(producer.condition))


def _artifact_types(
    step: StepDecl, condition: Condition, producers: Mapping[str, StepDecl]
) -> dict[ArtifactRef, OperandType]:
    """The known type of each output the condition reads: the consumer's annotation of the
    input, else the producer's return annotation."""
    mine = dict(step.input_types)
    found: dict[ArtifactRef, OperandType] = {}
    for ref in condition_artifacts(condition):
        kind = mine.get(ref.name) or dict(producers[ref.name].output_types).get(ref.name)
        if kind is not None:
            found[ref] = OperandType(kind, f"output of step '{ref.step}'")
    return found


def _anchor(when: WhenDecl, name: str) -> object:
    return next(u.anchor for u in when.names if u.value == name)
