"""stepc: a compiler for ML pipelines.

Flows import ``step`` and ``pipeline`` from here. At compile time stepc reads them statically
and never imports the flow; at run time (``stepc exec``) these are light markers that leave the
decorated function callable as it was written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

__version__ = "0.1.0"
__all__ = ["__version__", "pipeline", "run", "step"]

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
        return f

    return mark(func) if func is not None else mark


def pipeline(name: str, steps: list[Callable[..., Any]] | None = None, **options: Any) -> dict[str, Any]:
    """Declare a pipeline; read statically by the compiler, inert at run time."""
    return {"name": name, "steps": list(steps or []), **options}


def run(path: str, params: dict[str, Any] | None = None, **options: Any) -> Any:
    """Run a flow file with the local interpreter; see :func:`stepc.interpreter.run`."""
    from stepc.interpreter import run as run_flow

    return run_flow(path, params=params, **options)
