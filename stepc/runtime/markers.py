"""What a flow imports from stepc, as it runs: the step markers and the class-dialect base.

At compile time stepc reads these statically and never imports the flow; at run time (``stepc
exec``, ``stepc run``) they are light markers that leave the decorated function callable as it
was written. The class dialect's run-time behaviour (``self.next``, ``self.merge_artifacts``,
``self.input``, ...) comes from :mod:`stepc.runtime.flowspec`, which attaches its per-task state
to the flow object. :mod:`stepc` re-exports everything here; the runtime imports it from here, so
that an engine task needs nothing beyond the runtime.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = [
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "catch",
    "engine",
    "pipeline",
    "resources",
    "retry",
    "step",
    "timeout",
]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def step(func: F) -> F: ...
@overload
def step(func: None = None, **options: Any) -> Callable[[F], F]: ...
def step(func: F | None = None, **options: Any) -> F | Callable[[F], F]:
    """Mark a function as a pipeline step (``@step`` or ``@step(outputs=[...], ...)``).

    The options are read statically by the compiler; at run time they are only recorded on the
    function as ``__stepc_step__``.
    """

    def mark(f: F) -> F:
        f.__stepc_step__ = dict(options)  # type: ignore[attr-defined]
        # A flow's own first and last steps (@step(start=True), as Metaflow 2.19 spells them).
        f.is_start_step = bool(options.get("start"))  # type: ignore[attr-defined]
        f.is_end_step = bool(options.get("end"))  # type: ignore[attr-defined]
        return f

    return mark(func) if func is not None else mark


def pipeline(name: str, steps: list[Callable[..., Any]] | None = None, **options: Any) -> dict[str, Any]:
    """Declare a pipeline; read statically by the compiler, inert at run time."""
    return {"name": name, "steps": list(steps or []), **options}


# --- the class dialect (Metaflow style) -------------------------------------------------------


def _settings_decorator(name: str) -> Callable[..., Any]:
    """A step decorator whose settings the compiler reads statically: usable bare (``@retry``)
    or with arguments (``@retry(times=2)``); it records them as ``__stepc_<name>__`` and returns
    the function unchanged."""

    def decorator(func: Any = None, **options: Any) -> Any:
        def mark(f: F) -> F:
            # A bound method or other object that refuses attributes is still returned as is.
            with contextlib.suppress(AttributeError, TypeError):
                setattr(f, f"__stepc_{name}__", dict(options))
            return f

        return mark(func) if func is not None else mark

    decorator.__name__ = decorator.__qualname__ = name
    return decorator


retry = _settings_decorator("retry")
retry.__doc__ = "``@retry(times=3, minutes_between_retries=2)``: re-run a failed step (read statically)."
timeout = _settings_decorator("timeout")
timeout.__doc__ = "``@timeout(seconds=, minutes=, hours=)``: a per-attempt time limit (read statically)."
resources = _settings_decorator("resources")
resources.__doc__ = "``@resources(cpu=, memory=MB, gpu=, disk=MB)``: what the step needs (read statically)."
catch = _settings_decorator("catch")
catch.__doc__ = (
    "``@catch(var='error', print_exception=True)``: when the last attempt raises, the step still "
    "succeeds and ``self.<var>`` holds the exception (read statically)."
)
engine = _settings_decorator("engine")
engine.__doc__ = (
    "``@engine(argo={...}, airflow={...}, gha={...}, valohai={...}, secrets=['NAME'])``: settings of "
    "each engine that stepc does not model, and the secrets the step reads from its environment "
    "(read statically; the function dialect writes them as ``@step(engine=..., secrets=...)``)."
)


class Parameter:
    """A flow parameter declared as a class attribute (``alpha = Parameter("alpha", default=1)``).

    Inert: the compiler reads it statically; at run time the value replaces it on the flow
    object under the attribute's name.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,  # noqa: A002 - Metaflow's spelling
        help: str | None = None,  # noqa: A002 - Metaflow's spelling
        required: bool = False,
        **options: Any,
    ) -> None:
        self.name = name
        self.default = default
        self.type = type
        self.help = help
        self.required = required
        self.options = options

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r})"


class IncludeFile(Parameter):
    """A parameter naming a file (``data = IncludeFile("data", default="data.csv")``): the
    steps see the file's content, read when the run starts (read statically, like Parameter)."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,  # noqa: A002 - Metaflow's spelling
        required: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(name, default, str, help, required, **options)
        self.is_text = is_text
        self.encoding = encoding


def JSONType(text: str) -> Any:  # noqa: N802 - Metaflow's spelling
    """``Parameter(type=JSONType)``: the value is JSON (the front end reads the type statically)."""
    return json.loads(text)


class _ConfigUse:
    """A config's use in the class body (``cfg.a.b``, ``config_expr("...")``): the front end
    reads its value statically; at import it is inert, whatever is looked up on it."""

    def __init__(self, written: str) -> None:
        self._written = written

    def __getattr__(self, name: str) -> _ConfigUse:
        if name.startswith("__"):  # copy, pickle and inspect probe dunders: answer as a plain object
            raise AttributeError(name)
        return _ConfigUse(f"{self._written}.{name}")

    def __getitem__(self, key: Any) -> _ConfigUse:
        return _ConfigUse(f"{self._written}[{key!r}]")

    def __repr__(self) -> str:
        return f"<{self._written}: read by stepc when it reads the flow>"


class Config(_ConfigUse):
    """A Metaflow-style config (``cfg = Config("cfg", default="config.json")``): a JSON value
    fixed when the flow is read; steps see it as ``self.cfg`` (read statically, like Parameter)."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        default_value: Any = None,
        help: str | None = None,  # noqa: A002 - Metaflow's spelling
        required: bool = False,
        plain: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(name)
        self.name = name
        self.default = default
        self.default_value = default_value
        self.help = help
        self.required = required
        self.plain = plain
        self.options = options


def config_expr(expression: str) -> Any:
    """``config_expr("cfg.a.b")``: an expression over the configs, which the front end
    evaluates when it reads the flow (in decorators of the class body)."""
    return _ConfigUse(f"config_expr({expression!r})")


def _task_state(flow: Any, what: str) -> Any:
    state = flow.__dict__.get("_stepc_state")
    if state is None:
        raise RuntimeError(f"{what} is available only while stepc runs a step (stepc run / stepc exec)")
    return state


class FlowSpec:
    """Base class of a class-dialect flow: ``@step`` methods, ``self.next(...)`` transitions.

    The runtime creates the object without calling ``__init__``, sets the step's parameters and
    input artifacts as attributes, calls the step method and saves the public attributes the
    step set. The methods below delegate to that per-task state.
    """

    def next(self, *steps: Any, foreach: str | None = None, condition: str | None = None, **kwargs: Any) -> None:
        """Name the step(s) that follow: ``self.next(self.a)``, ``self.next(self.a, self.b)``,
        ``self.next(self.a, foreach="items")`` or, a switch,
        ``self.next({"x": self.a, "y": self.b}, condition="attr")``."""
        _task_state(self, "self.next()").next(self, steps, foreach, condition, kwargs)

    def merge_artifacts(self, inputs: Any, exclude: list[str] | None = None, include: list[str] | None = None) -> None:
        """In a join: copy onto ``self`` the artifacts of ``inputs`` not already set in this step;
        a name whose values differ between the inputs is an error unless excluded."""
        _task_state(self, "self.merge_artifacts()").merge_artifacts(self, inputs, exclude, include)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``[(index, number of items, item)]`` inside a foreach, ``[]`` outside."""
        stack: list[tuple[int, int, Any]] = _task_state(self, "self.foreach_stack()").foreach_stack()
        return stack

    @property
    def input(self) -> Any:
        """This foreach task's item (``None`` outside a foreach)."""
        return _task_state(self, "self.input").input

    @property
    def index(self) -> int | None:
        """This foreach task's index (``None`` outside a foreach)."""
        index: int | None = _task_state(self, "self.index").index
        return index

    def __getattr__(self, name: str) -> Any:
        # Only reached for a missing attribute: say so plainly (and never recurse into a base
        # class's own lookup machinery, such as Metaflow's datastore).
        raise AttributeError(f"Flow {type(self).__name__} has no attribute '{name}'")


# Their public home is the stepc package: reprs, pickles and help() name them there.
for _public in (FlowSpec, Parameter, Config, config_expr, step, pipeline, retry, timeout, resources, catch):
    _public.__module__ = "stepc"
