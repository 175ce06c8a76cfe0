"""What a dialect reader found in a module, before the pipeline is wired.

Both dialects (functions, flow classes) produce these; :mod:`stepc.assemble` turns them into
the IR. Anchors are opaque places in the source (the reader's nodes) that only the reader's
:class:`Reporter` can turn into line and column, so that this module and the assembly stay
free of libcst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stepc.diagnostics import Diagnostic, Severity
from stepc.ir import Condition, EngineSetting, IncludedFile, ParamType, Resources, Retry, Span, conforms


class Reporter(Protocol):
    def diagnostic(self, code: str, message: str, anchor: object, severity: Severity = "error") -> Diagnostic: ...


@dataclass(frozen=True)
class Named:
    """A name written in the source, with its place."""

    value: str
    anchor: object


@dataclass(frozen=True)
class ParamDecl:
    """A pipeline parameter as one step's function declares it."""

    name: str
    type: ParamType
    default: Any
    required: bool
    anchor: object
    item_type: ParamType | None = None
    description: str = ""
    attribute: str = ""  # class dialect: the attribute steps read it as (may differ from the name)
    separator: str | None = None
    file: IncludedFile | None = None
    default_expr: str | None = None  # a computed default, evaluated when the run starts

    @property
    def attr(self) -> str:
        return self.attribute or self.name


@dataclass(frozen=True)
class WhenDecl:
    """A parsed condition and the names it uses, with their places. Every name is read as a
    parameter here; the assembly turns the step's inputs among them into its producers' outputs
    (:mod:`stepc.step_conditions`)."""

    condition: Condition
    names: tuple[Named, ...]


@dataclass(frozen=True)
class StepDecl:
    """One step as written. ``None`` for a setting means "not set: use the pipeline's"."""

    name: Named
    function: str
    kind: str = "function"
    inputs: tuple[Named, ...] = ()
    optional_inputs: frozenset[str] = frozenset()
    outputs: tuple[Named, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    after: tuple[Named, ...] = ()
    foreach: Named | None = None
    nested: object | None = None  # where `nested=True` is written: the foreach opens a scope inside its producer's
    when: WhenDecl | None = None
    # (name, type) of inputs and outputs whose annotations give a type: conditions on them are type-checked
    input_types: tuple[tuple[str, ParamType], ...] = ()
    output_types: tuple[tuple[str, ParamType], ...] = ()
    retry: Retry | None = None
    timeout: int | None = None
    cache: str | None = None
    code_hash: str = ""
    resources: Resources | None = None
    image: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    rollback: str | None = None
    on_failure: str = "fail"  # "continue": after the last attempt the outputs are None and the run goes on
    group: Named | None = None
    weight: float | None = None
    tags: tuple[tuple[str, str], ...] = ()
    description: str = ""
    span: Span | None = None
    max_parallel: int | None = None  # a foreach head's bound on its items at once
    max_parallel_at: object | None = None  # where max_parallel= is written
    # How the module reading it names it, when that is not its function's own name there: a
    # step imported from another module (``clean``, ``c`` for ``import ... as c``, ``s.clean``).
    reference: str = ""
    engine: tuple[EngineSetting, ...] = ()
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineDecl:
    """A ``pipeline(...)`` call, or the implicit pipeline of a module without one."""

    name: Named
    steps: tuple[Named, ...] | None  # None: every step of the module
    image: str | None = None
    schedule: str | None = None
    params: dict[str, tuple[Any, object]] = field(default_factory=dict)  # name -> (value, anchor)
    retry: Retry | None = None
    timeout: int | None = None
    cache: str | None = None
    resources: Resources | None = None
    description: str = ""
    max_parallel: int | None = None


@dataclass(frozen=True)
class ModuleDecl:
    """Everything one flow file declares."""

    path: str  # relative to the project root
    module: str
    steps: tuple[StepDecl, ...]
    pipelines: tuple[PipelineDecl, ...]
    default_image: str
    description: str = ""  # the module docstring's first line
    # Functions decorated with @step whose reading failed (already reported): a pipeline
    # listing them must not add "is not decorated with @step" on top.
    broken_steps: frozenset[str] = frozenset()


def conforms_param(value: Any, type_: ParamType, item_type: ParamType | None) -> bool:
    """Whether ``value`` suits a parameter of ``type_`` (and of ``item_type`` for the items of a
    list or the values of a dict)."""
    if not conforms(value, type_):
        return False
    if item_type is None:
        return True
    items = value.values() if isinstance(value, dict) else value
    return all(conforms(item, item_type) for item in items)


def normalise_value(value: Any, type_: ParamType | None, item_type: ParamType | None = None) -> Any:
    """The value as the IR holds it (see :func:`stepc.ir.freeze`): lists and tuples as tuples,
    at every depth, and ints as floats where the type (or the item type) is ``float``."""
    if isinstance(value, (list, tuple)):
        return tuple(normalise_value(v, item_type) for v in value)
    if isinstance(value, dict):
        return {k: normalise_value(v, item_type) for k, v in value.items()}
    if type_ == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
