"""The intermediate representation: what every backend and the interpreter see.

Plain frozen dataclasses and the pure functions over them; :mod:`stepc.ir_json` writes and
reads them as canonical JSON (``ir_schema.json`` documents the format).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar
from typing import Literal as TypingLiteral

SCHEMA_VERSION = 4

JSONValue = Any  # None | bool | int | float | str | list | dict, after freezing: tuples for lists

ParamType = TypingLiteral["int", "float", "str", "bool", "list", "dict"]
CachePolicy = TypingLiteral["none", "code_hash", "input_hash", "all"]
InputMode = TypingLiteral["value", "item", "gather"]


# --- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamRef:
    """A pipeline parameter named in a condition."""

    name: str


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact of an upstream step named in a condition (decided at run time)."""

    step: str
    name: str


@dataclass(frozen=True)
class Const:
    """A literal operand; lists are stored as tuples so that conditions stay hashable."""

    value: JSONValue


Operand = ParamRef | ArtifactRef | Const


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of == != < <= > >= in, not in."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` over two or more conditions."""

    op: TypingLiteral["and", "or"]
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


Condition = Compare | BoolOp | Not

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")

T = TypeVar("T")


def fold(
    cond: Condition,
    compare: Callable[[Compare], T],
    bool_op: Callable[[BoolOp, Iterator[T]], T],
    not_: Callable[[Not, T], T],
) -> T:
    """The one walk over a condition tree: each node's result from its children's.

    ``bool_op`` gets its operands' results lazily, in order, so that it can stop early (as
    Python's ``and`` / ``or`` do). Conditions are a few nodes deep, so recursion is fine here.
    """
    if isinstance(cond, Not):
        return not_(cond, fold(cond.operand, compare, bool_op, not_))
    if isinstance(cond, BoolOp):
        return bool_op(cond, (fold(c, compare, bool_op, not_) for c in cond.operands))
    return compare(cond)


def operands(cond: Condition | None) -> list[Operand]:
    """Every operand of every comparison in ``cond``, left to right."""
    if cond is None:
        return []
    return fold(
        cond,
        lambda c: [c.left, c.right],
        lambda _, parts: [o for part in parts for o in part],
        lambda _, inner: inner,
    )


def condition_artifacts(cond: Condition | None) -> list[ArtifactRef]:
    """The upstream artifacts a condition reads, in order (a condition on parameters reads none)."""
    return [o for o in operands(cond) if isinstance(o, ArtifactRef)]


artifact_refs = condition_artifacts  # the name the runtime and the backends know it by


def condition_parameters(cond: Condition | None) -> set[str]:
    """Names of the pipeline parameters a condition reads."""
    return {o.name for o in operands(cond) if isinstance(o, ParamRef)}


def conjuncts(cond: Condition | None) -> tuple[Condition, ...]:
    """The parts a condition ANDs together (itself when it is no AND)."""
    if cond is None:
        return ()
    return cond.operands if isinstance(cond, BoolOp) and cond.op == "and" else (cond,)


def conjoin(conditions: list[Condition | None]) -> Condition | None:
    """AND the given conditions, flattening nested ANDs and dropping repeats, in order."""
    flat: list[Condition] = []
    for cond in conditions:
        for part in conjuncts(cond):
            if part not in flat:
                flat.append(part)
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return BoolOp("and", tuple(flat))


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda left, right: left in right,
    "not in": lambda left, right: left not in right,
}


def evaluate(
    cond: Condition | None,
    params: dict[str, Any],
    artifacts: dict[tuple[str, str], Any] | None = None,
) -> bool:
    """The reference semantics of a condition; the interpreter and the tests use it."""
    if cond is None:
        return True
    arts = artifacts or {}

    def value(operand: Operand) -> Any:
        if isinstance(operand, ParamRef):
            return params[operand.name]
        if isinstance(operand, ArtifactRef):
            return arts[(operand.step, operand.name)]
        return list(operand.value) if isinstance(operand.value, tuple) else operand.value

    def compare(c: Compare) -> bool:
        left, right = value(c.left), value(c.right)
        if c.op not in _COMPARISONS:
            raise ValueError(f"unknown comparison {c.op!r}")
        return bool(_COMPARISONS[c.op](left, right))

    return fold(
        cond,
        compare,
        lambda c, parts: all(parts) if c.op == "and" else any(parts),
        lambda _, inner: not inner,
    )


class ConditionGenerator:
    """Renders a condition as one target's expression text: the walk is :func:`fold`'s, a target
    fills the tables and overrides the hooks. A hook returns None for what the target cannot
    say; the base then says nothing for any condition containing it."""

    OPERATORS: ClassVar[Mapping[str, str]] = {op: op for op in COMPARE_OPS}  # IR op -> spelling
    NEGATED: ClassVar[Mapping[str, str]] = {}  # IR ops said as the NOT of another: "not in" -> "in"
    BOOL_OPS: ClassVar[Mapping[str, str]] = {"and": " and ", "or": " or "}  # joiners
    NOT: ClassVar[str] = "not ({})"

    def generate(self, cond: Condition) -> str | None:
        return fold(cond, self.compare, self.bool_op, self.not_)

    def compare(self, cond: Compare) -> str | None:
        left, right = self.operand(cond.left), self.operand(cond.right)
        if left is None or right is None:
            return None
        if cond.op in self.NEGATED:
            return self.NOT.format(f"{left} {self.OPERATORS[self.NEGATED[cond.op]]} {right}")
        return f"{left} {self.OPERATORS[cond.op]} {right}"

    def bool_op(self, cond: BoolOp, parts: Iterator[str | None]) -> str | None:
        texts = [t for t in parts if t is not None]
        if len(texts) < len(cond.operands):
            return None
        return self.BOOL_OPS[cond.op].join(self.group(c, t) for c, t in zip(cond.operands, texts, strict=True))

    def group(self, operand: Condition, text: str) -> str:
        """An operand of ``and`` / ``or`` as written inside it (parenthesised by default)."""
        return f"({text})"

    def not_(self, cond: Not, inner: str | None) -> str | None:
        return None if inner is None else self.NOT.format(inner)

    def operand(self, operand: Operand) -> str | None:
        if isinstance(operand, ParamRef):
            return self.param(operand)
        if isinstance(operand, ArtifactRef):
            return self.artifact(operand)
        return self.literal(thaw(operand.value))

    def param(self, ref: ParamRef) -> str | None:
        return ref.name

    def artifact(self, ref: ArtifactRef) -> str | None:
        return f"{ref.step}.{ref.name}"

    def literal(self, value: Any) -> str | None:
        return repr(value)


class _ConditionText(ConditionGenerator):
    """Python syntax as the user wrote it: only a nested ``and`` / ``or`` is parenthesised."""

    def group(self, operand: Condition, text: str) -> str:
        return f"({text})" if isinstance(operand, BoolOp) else text


_TEXT = _ConditionText()


def condition_text(cond: Condition | None) -> str:
    """A readable rendering (Python syntax) for graphs and messages."""
    return "" if cond is None else _TEXT.generate(cond) or ""


# --- steps and pipelines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Where a step is defined: 1-based line, 1-based column, file relative to the project."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class IncludedFile:
    """A parameter that names a file (Metaflow's ``IncludeFile``): its value in the steps is the
    file's content, text in ``encoding`` or bytes, read when the run (or engine task) starts."""

    is_text: bool = True
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParamType
    default: JSONValue = None
    required: bool = False
    item_type: ParamType | None = None  # for list[int] and the values of dict[str, int]
    description: str = ""
    separator: str | None = None  # a list given as one text, split at this (Metaflow's separator=)
    file: IncludedFile | None = None  # the value is a path; the steps get the file's content
    # Python source of a default the flow computes (``default=script_path("data.csv")``), which
    # Metaflow evaluates when it imports the flow: evaluated in the flow module when the run
    # starts (by each engine task that reads it), unless a value is given. ``default`` is None.
    default_expr: str | None = None


@dataclass(frozen=True)
class FlowConfig:
    """A Metaflow ``Config``: a value fixed when the flow is read (from a JSON file or the flow's
    own literal), which every step of the class dialect sees as ``self.<attribute>``."""

    name: str
    attribute: str
    value: JSONValue = None  # JSON data; a plain config's text
    plain: bool = False  # steps get the value as it is, not as Metaflow's ConfigValue


@dataclass(frozen=True)
class Retry:
    """Retries after the first attempt; the n-th retry waits ``delay * backoff ** (n-1)``."""

    times: int = 0
    delay: float = 0.0
    backoff: float = 1.0

    def wait_before(self, retry_number: int) -> float:
        return self.delay * self.backoff ** max(0, retry_number - 1)


@dataclass(frozen=True)
class Resources:
    """Normalised: cpu in cores, memory and disk in bytes, gpu as a count."""

    cpu: float | None = None
    memory: int | None = None
    gpu: int = 0
    gpu_type: str | None = None
    disk: int | None = None


@dataclass(frozen=True)
class Input:
    """One artifact a step consumes.

    mode ``value``: the whole artifact; ``item``: one item (the step's foreach input, from a
    list or, for a chained map, from the matching item of a foreach producer); ``gather``: the
    list of all results of a foreach producer, in item order. ``optional``: the function gives
    the parameter the default ``None``, so a skipped producer passes ``None`` instead of
    skipping this step (in the class dialect: the attribute is left unset).

    ``views`` (class dialect joins only): the predecessors of the join whose ``inputs`` view
    carries this artifact; empty for every other input. One name may then appear once per
    producer, since each branch of a fan-out may have its own value.
    """

    name: str
    producer: str
    mode: InputMode = "value"
    optional: bool = False
    views: tuple[str, ...] = ()


@dataclass(frozen=True)
class Foreach:
    """The step runs once per item of an input artifact or of a list parameter.

    Every step inside a foreach scope carries the ``Foreach`` of its innermost scope; the
    scope's first step (its head, which names the scope) reads the list, the others run for
    the same items (see :attr:`Step.scope`).
    """

    source: TypingLiteral["input", "param"]
    name: str


@dataclass(frozen=True)
class EngineSetting:
    """One key of a step's ``engine={target: {key: value}}``: a setting of one engine that the
    IR does not model (Argo tolerations, an Airflow queue, ...). The front end checks the shape
    and the target; the target's backend checks the key and the value against its table, at
    ``span``, the place the key is written. ``value`` is frozen (see :func:`freeze`)."""

    target: str
    key: str
    value: JSONValue
    span: Span | None = None


@dataclass(frozen=True)
class Step:
    name: str
    function: str  # "module:function" or "module:Class.method"
    kind: TypingLiteral["function", "flowspec"] = "function"
    inputs: tuple[Input, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # names of the pipeline parameters the function takes
    after: tuple[str, ...] = ()
    foreach: Foreach | None = None
    # The foreach scopes the step runs inside, outermost first, each named by its head: the
    # first step of the scope, whose ``foreach`` reads the list. A step in n scopes runs once
    # per index path of length n; a join closing a scope sits in the scopes around it.
    scope: tuple[str, ...] = ()
    when: Condition | None = None  # the step's own condition
    condition: Condition | None = None  # effective: own AND those of required producers
    # A recursive switch (class dialect): while this holds on the outputs of a pass, the step
    # runs again, its next pass seeing what the last one set; its successors see the last pass.
    repeat: Condition | None = None
    # A foreach scope's head (its first step): the most items of the scope with a task running
    # at once (every task inside the scope counts as its item's); None: the default bound of
    # stepc.fanout, and on every other step.
    max_parallel: int | None = None
    retry: Retry = field(default_factory=Retry)
    timeout: int | None = None  # seconds per attempt
    cache: CachePolicy = "none"
    code_hash: str = ""
    resources: Resources = field(default_factory=Resources)
    image: str = "python:3.12-slim"
    env: tuple[tuple[str, str], ...] = ()
    rollback: str | None = None  # "module:function"
    catch: str | None = None  # class dialect @catch(var=): the attribute a final failure is stored in ("": none)
    group: str | None = None
    weight: float = 1.0
    tags: tuple[tuple[str, str], ...] = ()  # list tags become (tag, "")
    description: str = ""
    span: Span | None = None
    engine: tuple[EngineSetting, ...] = ()  # per-target settings, in the order written
    secrets: tuple[str, ...] = ()  # names of secrets the engine puts in the step's environment (sorted)

    def engine_settings(self, target: str) -> dict[str, EngineSetting]:
        """The step's ``engine=`` settings of one target, by key."""
        return {e.key: e for e in self.engine if e.target == target}

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def depth(self) -> int:
        """How many foreach scopes the step is inside (the length of its item paths)."""
        return len(self.scope)


@dataclass(frozen=True)
class Edge:
    """``artifact`` None means an ordering edge (``after=``) that passes no data."""

    source: str
    target: str
    artifact: str | None = None


@dataclass(frozen=True)
class Pipeline:
    name: str
    source: str  # the flow file, relative to the project root
    module: str
    steps: tuple[Step, ...]  # in a topological order, ties broken by declaration order
    edges: tuple[Edge, ...] = ()
    params: tuple[Parameter, ...] = ()
    description: str = ""
    schedule: str | None = None
    image: str = "python:3.12-slim"
    project: str | None = None  # Metaflow's @project(name=): deployments are <project>.<branch>.<name>
    # ``pipeline(timeout=...)``: besides each step's default per attempt, the bound of a whole
    # run where the engine has one (Argo's ``spec.activeDeadlineSeconds``); None: unbounded.
    timeout: int | None = None
    # ``pipeline(max_parallel=...)``: the most tasks of one run at once; None: unbounded.
    max_parallel: int | None = None
    configs: tuple[FlowConfig, ...] = ()  # class dialect: Metaflow's Config attributes
    schema_version: int = SCHEMA_VERSION

    # Lookups by name are on every backend's and the scheduler's hot path: index once.
    @cached_property
    def _steps_by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    @cached_property
    def _neighbours(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        before: dict[str, set[str]] = {s.name: set() for s in self.steps}
        after: dict[str, set[str]] = {s.name: set() for s in self.steps}
        for e in self.edges:
            before.setdefault(e.target, set()).add(e.source)
            after.setdefault(e.source, set()).add(e.target)
        return ({k: sorted(v) for k, v in before.items()}, {k: sorted(v) for k, v in after.items()})

    def step(self, name: str) -> Step:
        return self._steps_by_name[name]

    def param(self, name: str) -> Parameter:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def upstream(self, name: str) -> list[str]:
        """Steps that must finish before ``name`` starts (data and ordering edges)."""
        return list(self._neighbours[0].get(name, ()))

    def downstream(self, name: str) -> list[str]:
        return list(self._neighbours[1].get(name, ()))


def value_type(value: Any) -> ParamType:
    """The parameter type a plain value has."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


def conforms(value: Any, type_: ParamType) -> bool:
    """Whether ``value`` is a valid value for a parameter of ``type_`` (ints pass as floats)."""
    if type_ == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return value_type(value) == type_ and (type_ != "str" or isinstance(value, str))


def parameters_read(steps: Iterable[Step]) -> set[str]:
    """The parameters running these steps reads: their functions', conditions' and foreach's
    (what `stepc exec` must be given)."""
    names: set[str] = set()
    for step in steps:
        names.update(step.params)
        names.update(condition_parameters(step.condition))
        if step.foreach is not None and step.foreach.source == "param":
            names.add(step.foreach.name)
    return names


# --- plain values -------------------------------------------------------------------------


def freeze(value: Any) -> JSONValue:
    """Lists become tuples so that literals in conditions are hashable; dicts stay dicts."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    return value


def thaw(value: Any) -> Any:
    """The JSON-shaped twin of :func:`freeze`: tuples back to lists."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, dict):
        return {str(k): thaw(v) for k, v in value.items()}
    return value
