"""Running a step of the class dialect (Metaflow style): a method of a FlowSpec subclass.

The IR says what a method reads and writes (``Step.inputs``/``Step.outputs``), so the runtime
needs no Metaflow machinery. It makes the flow object without calling ``__init__``, sets the
step's parameters (under their class attribute's name) and input artifacts as attributes,
calls the method and saves the public attributes among the step's outputs that it set.

* An absent input (its producer was skipped, or ran without setting it) leaves the attribute
  unset, so reading it raises AttributeError, as in Metaflow.
* A foreach task sees the whole list as its attribute, ``self.input`` (its item), ``self.index``
  and ``self.foreach_stack()`` (``[(index, number of items, item)]``; ``[]`` outside a foreach).
* A join step (a method taking ``inputs``) gets no input attributes, only ``inputs``: for a
  foreach join one view per item (that item's artifacts and those from before the split), for
  a static fan-out one view per predecessor (IR ``Input.views``), also reachable as
  ``inputs.<step>``. ``self.merge_artifacts(inputs, include=, exclude=)`` follows Metaflow.
* ``self.next(...)`` records the steps named and, for a switch, the case chosen; every step but
  ``end`` must call it; a foreach over an empty list fails there, as in Metaflow.
* ``self.name`` is the flow's (class's) name, as in Metaflow.
* ``@catch(var=...)``: when the last attempt raises (or, with a timeout, runs out of time: see
  :func:`_catchable_deadline`), the step succeeds anyway: ``var`` holds an
  :class:`ExceptionWrapper` and the attributes set before the exception are saved as usual
  (what Metaflow does: it persists the flow object after its catch decorator handled the
  exception); without an exception ``var`` is ``None``.

The class may derive from :class:`stepc.FlowSpec`, from ``metaflow.FlowSpec`` or from nothing
in particular: any other class runs as a subclass that puts :class:`stepc.FlowSpec` first, so
its ``next``, ``input``, ``index``, ... are ours (Metaflow's read state only its own runtime has).
"""

from __future__ import annotations

import inspect
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stepc.runtime import metaflow_current
from stepc.runtime.configvalue import config_value
from stepc.runtime.joins import Artifact, Inputs, Loaded, join_inputs, load_bound
from stepc.runtime.markers import FlowSpec
from stepc.runtime.plan import Split, Task
from stepc.runtime.store import Store

# --- exceptions ---------------------------------------------------------------------------


class FlowError(Exception):
    """A class-dialect step broke the dialect's rules after its code ran (no ``self.next``)."""


class InvalidNextException(Exception):
    """``self.next(...)`` was called with arguments that name no valid transition."""


class MergeArtifactsException(Exception):
    """``self.merge_artifacts`` could not merge; ``artifact_names`` are the names at fault."""

    def __init__(self, message: str, artifact_names: list[str] | None = None) -> None:
        super().__init__(message)
        self.artifact_names = list(artifact_names or [])


class UnhandledInMergeArtifactsException(MergeArtifactsException):
    """Artifacts whose values differ between the join's inputs and that this step did not set."""


class MissingInMergeArtifactsException(MergeArtifactsException):
    """Artifacts named in ``include`` that no input carries."""


class StepTimeout(Exception):
    """A ``@catch`` step ran out of time on its last attempt (raised inside it, so it is caught)."""


class ExceptionWrapper(Exception):
    """What ``@catch(var=...)`` stores: the caught exception reduced to text, so reading the
    artifact never needs the exception's own class.

    ``exception`` is ``str(exc)``, ``type`` its ``module.ClassName`` and ``stacktrace`` the
    formatted traceback; ``str()`` is the traceback (as Metaflow's wrapper prints).
    """

    def __init__(self, exc: BaseException | None = None) -> None:
        super().__init__()
        self.exception = "" if exc is None else str(exc)
        self.type = "" if exc is None else f"{type(exc).__module__}.{type(exc).__qualname__}"
        self.stacktrace: str | None = None
        if exc is not None and exc.__traceback__ is not None:
            self.stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles its args and drops the attributes: rebuild empty, then restore them.
        return (ExceptionWrapper, (), self.__dict__)

    def __str__(self) -> str:
        return self.stacktrace or f"[no stacktrace]\n{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"ExceptionWrapper({self.type}: {self.exception})"


# --- the per-task state behind stepc.FlowSpec's methods -----------------------------------


@dataclass
class TaskState:
    """What ``self.next``, ``self.merge_artifacts``, ``self.input``, ... of one task act on."""

    step: str
    join: bool
    splits: tuple[tuple[int, int, Any], ...]  # (index, count, item) per foreach level, outermost first
    targets: tuple[str, ...] | None = None  # what self.next(...) named (the chosen case of a switch)
    switch: str | None = None
    foreach: str | None = None
    called: bool = field(default=False, repr=False)
    is_end: bool = False

    @property
    def input(self) -> Any:
        return self.splits[-1][2] if self.splits else None

    @property
    def index(self) -> int | None:
        return self.splits[-1][0] if self.splits else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return list(self.splits)

    def next(self, flow: Any, steps: tuple[Any, ...], foreach: Any, condition: Any, kwargs: Mapping[str, Any]) -> None:
        where = f"step '{self.step}'"
        if kwargs:
            raise InvalidNextException(
                f"{where} passes an unknown keyword argument '{next(iter(kwargs))}' to self.next()"
            )
        if self.called:
            raise InvalidNextException(f"{where} calls self.next() more than once; call it once, last")
        self.called = True
        if self.is_end:
            raise InvalidNextException(f"step '{self.step}' is the last step: it cannot call self.next()")
        if condition is not None:
            if len(steps) != 1 or not isinstance(steps[0], dict) or not steps[0]:
                raise InvalidNextException(
                    f"{where}: with condition=, self.next() takes one non-empty dict from case values to steps"
                )
            if not isinstance(condition, str):
                raise InvalidNextException(f"{where}: condition= must be the name of an attribute (a string)")
            if foreach is not None:
                raise InvalidNextException(f"{where}: a switch (condition=) cannot also be a foreach")
            cases: dict[Any, Any] = steps[0]
            try:
                value = getattr(flow, condition)
            except AttributeError:
                raise InvalidNextException(
                    f"{where}: the switch condition self.{condition} is not set; set it before self.next()"
                ) from None
            if value not in cases:
                raise RuntimeError(
                    f"{where}: switch condition self.{condition} is {value!r}, which is none of the cases {list(cases)}"
                )
            self.targets = (_target_name(cases[value], where, "the chosen case"),)
            self.switch = value if isinstance(value, str) else repr(value)
            return
        if len(steps) == 1 and isinstance(steps[0], dict):
            raise InvalidNextException(f"{where}: a dict of cases in self.next() needs condition='attribute'")
        if not steps:
            raise InvalidNextException(f"{where}: self.next() names no step")
        names = tuple(_target_name(s, where, f"argument {i + 1}") for i, s in enumerate(steps))
        if foreach is not None:
            if not isinstance(foreach, str):
                raise InvalidNextException(f"{where}: foreach= must be the name of an attribute (a string)")
            if len(names) != 1:
                raise InvalidNextException(f"{where}: a foreach goes to exactly one step")
            try:
                items = getattr(flow, foreach)
            except AttributeError:
                raise InvalidNextException(
                    f"{where}: the foreach list self.{foreach} is not set; set it before self.next()"
                ) from None
            try:
                count = len(items) if hasattr(items, "__len__") else sum(1 for _ in items)
            except TypeError as exc:
                raise InvalidNextException(
                    f"{where}: the foreach variable self.{foreach} is not iterable: {exc}"
                ) from None
            if count == 0:  # as in Metaflow: the splitting step fails rather than the join
                raise InvalidNextException(
                    f"{where}: the foreach over self.{foreach} produced zero splits (it is empty)"
                )
            self.foreach = foreach
        self.targets = names

    def merge_artifacts(self, flow: Any, inputs: Any, exclude: Any = None, include: Any = None) -> None:
        """Copy onto ``flow`` every artifact of the views not set on it yet (only those in
        ``include``, or all but those in ``exclude``); differing values are an error."""
        if not self.join:
            raise MergeArtifactsException(
                f"merge_artifacts can be called only in a join step, and step '{self.step}' is not a join"
            )
        include = list(include or [])
        exclude = list(exclude or [])
        if include and exclude:
            raise MergeArtifactsException("merge_artifacts: give include or exclude, not both")
        if not isinstance(inputs, Inputs):
            raise TypeError("merge_artifacts takes the join step's inputs argument")
        chosen: dict[str, Artifact] = {}
        conflicts: list[str] = []
        for view in inputs:
            for name, artifact in view._stepc_artifacts.items():
                wanted = name in include if include else name not in exclude
                if not wanted or hasattr(flow, name):
                    continue
                first = chosen.setdefault(name, artifact)
                if first.digest != artifact.digest and name not in conflicts:
                    conflicts.append(name)
        if conflicts:
            raise UnhandledInMergeArtifactsException(
                f"step '{self.step}' cannot merge {', '.join(conflicts)}: the values differ between the inputs. "
                "Set them on self (self.<name> = ...) before calling merge_artifacts, or exclude them.",
                conflicts,
            )
        missing = [name for name in include if name not in chosen and not hasattr(flow, name)]
        if missing:
            raise MissingInMergeArtifactsException(
                f"step '{self.step}' asks merge_artifacts to include {', '.join(missing)}, which no input carries",
                missing,
            )
        for name, artifact in chosen.items():
            object.__setattr__(flow, name, artifact.value)


def _target_name(target: Any, where: str, what: str) -> str:
    """The step a ``self.next`` argument names: a method of the flow (``self.train``)."""
    func = getattr(target, "__func__", None)
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        raise InvalidNextException(f"{where}: {what} of self.next() is not a step method (self.<step>)")
    return name


# --- running a step -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a class-dialect step produced: the outputs it set and where it said to go next."""

    outputs: dict[str, Any]
    next: tuple[str, ...] | None = None
    switch: str | None = None
    caught: str | None = None


_adapted: dict[type, type] = {}


def runtime_class(cls: type) -> type:
    """``cls`` itself when it derives from :class:`stepc.FlowSpec`, else a subclass putting
    :class:`stepc.FlowSpec` first. ``type.__new__`` makes it without the metaclass's
    ``__init__`` (Metaflow's would parse the flow's graph again)."""
    if issubclass(cls, FlowSpec):
        return cls
    if cls not in _adapted:
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
        _adapted[cls] = type.__new__(type(cls), cls.__name__, (FlowSpec, cls), namespace)
    return _adapted[cls]


def parameter_attributes(cls: type) -> dict[str, str]:
    """Parameter name -> the class attribute declaring it (``lr = Parameter("learning_rate")``)."""
    names: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            # stepc's or Metaflow's Parameter, or a subclass (IncludeFile)
            declared = any(k.__name__ == "Parameter" for k in type(value).__mro__)
            name = getattr(value, "name", None) if declared else None
            if isinstance(name, str):
                names[name] = attr
    return names


def run_step(task: Task, cls: type, method_name: str, store: Store) -> Outcome:
    """Run ``cls.<method_name>`` as ``task``; an exception of the method propagates unless
    ``@catch`` turns it into an outcome (last attempt only). ``metaflow.current`` describes the
    task meanwhile."""
    metaflow_current.enter(task_identity(task, cls))
    try:
        return _run_method(task, cls, method_name, store)
    finally:
        metaflow_current.leave()


def task_identity(task: Task, cls: type) -> metaflow_current.TaskIdentity:
    """The task in Metaflow's terms (``current``): the flow is the class, a task of a foreach
    is named by its item path."""
    task_id = "-".join([task.location, *(str(i) for i in task.item or ())])
    user = metaflow_current.username()
    return metaflow_current.TaskIdentity(
        flow_name=cls.__name__,
        run_id=task.run_id,
        step_name=task.step,
        task_id=task_id,
        retry_count=task.attempt - 1,
        parameter_names=(*task.params, *(c.name for c in task.configs)),  # Metaflow lists configs too
        username=user,
        project_name=task.project,
        branch_name=metaflow_current.branch(user) if task.project else None,
    )


def is_end_step(cls: type, method_name: str) -> bool:
    """Whether the method is the flow's last step: marked ``@step(end=True)`` (by stepc's or
    Metaflow's ``step``), or named ``end`` in a flow that marks none, or the only step."""
    steps = [n for n in dir(cls) if callable(getattr(cls, n, None)) and hasattr(getattr(cls, n), "is_end_step")]
    marked = [n for n in steps if getattr(cls, n).is_end_step]
    if marked:
        return method_name in marked
    return method_name == "end" or steps == [method_name]


def _run_method(task: Task, cls: type, method_name: str, store: Store) -> Outcome:
    function = getattr(cls, method_name)
    join = len(inspect.signature(function).parameters) > 1  # def join(self, inputs)
    loaded = [load_bound(store, b) for b in task.inputs]
    splits = tuple((s.index, s.count, _split_list(task, s, loaded, store)[s.index]) for s in task.splits)
    state = TaskState(task.step, join, splits, is_end=is_end_step(cls, method_name))
    flow: Any = object.__new__(runtime_class(cls))
    object.__setattr__(flow, "_stepc_state", state)
    object.__setattr__(flow, "name", cls.__name__)  # Metaflow's self.name: the flow's name
    attrs = parameter_attributes(cls)
    for name, value in task.params.items():
        object.__setattr__(flow, attrs.get(name, name), value)
    for config in task.configs:
        object.__setattr__(flow, config.attribute, config_value(config))
    attributes: dict[str, Any] = {}
    if not join:
        for bound, value in zip(task.inputs, loaded, strict=True):
            if isinstance(value, Artifact):
                attributes[bound.name] = value.value
            elif isinstance(value, list):  # a gather outside a join: the values that exist
                attributes[bound.name] = [a.value for a in value if a is not None]
        for name, value in attributes.items():
            object.__setattr__(flow, name, value)
    method = getattr(flow, method_name)
    try:
        with _catchable_deadline(task):
            if join:
                method(join_inputs(task, loaded))
            else:
                method()
    except Exception as exc:
        if task.catch is None or not task.final:
            raise
        traceback.print_exc()
        kept = "not stored" if not task.catch else f"stored in self.{task.catch}"
        print(f"stepc: @catch caught {type(exc).__name__} in step '{task.step}' ({kept})", file=sys.stderr)
        # Metaflow saves the flow object as the exception left it: what was set before it stays.
        values = vars(flow)
        outputs = {name: values[name] for name in task.outputs if name in values}
        if task.catch:
            outputs[task.catch] = ExceptionWrapper(exc)
        caught = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        return Outcome(outputs, caught=caught)
    if state.targets is None and not state.is_end:
        raise FlowError(f"step '{task.step}' did not call self.next(...)")
    values = vars(flow)
    outputs = {name: values[name] for name in task.outputs if name in values}
    if task.catch:
        outputs[task.catch] = None  # no exception: Metaflow sets the variable to None
    return Outcome(outputs, state.targets, state.switch)


def _split_list(task: Task, split: Split, loaded: list[Loaded], store: Store) -> Any:
    """The list one foreach level splits: a parameter, an input already loaded, or read here
    (a step inside a foreach does not otherwise read the lists it descends from)."""
    if split.artifact is None:
        return task.params[split.name]
    for bound, value in zip(task.inputs, loaded, strict=True):
        if isinstance(value, Artifact) and bound.artifacts and bound.artifacts[0].id == split.artifact.id:
            return value.value
    return store.read_artifact(split.artifact)


@contextmanager
def _catchable_deadline(task: Task) -> Iterator[None]:
    """On the last attempt of a ``@catch`` step with a timeout, raise :class:`StepTimeout` in
    the step a little before the engine kills it, so that ``@catch`` can handle a timeout as in
    Metaflow (whose ``@timeout`` raises inside the step). Other attempts are simply killed.
    This in-process timer is a courtesy only: the attempt's supervisor still stops the process
    at the deadline, so a step that ignores or resets SIGALRM gets no more time."""
    if (
        task.catch is None
        or not task.final
        or not task.timeout
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    # Leave time to save the outputs before the kill (the engine counts from the task's start).
    seconds = task.timeout - min(1.0, task.timeout * 0.1)

    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout(f"step '{task.step}' timed out after {task.timeout}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
