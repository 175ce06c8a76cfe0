"""A stand-in for the ``metaflow`` package where it is not installed.

A Metaflow flow (``from metaflow import FlowSpec, step, ...``) is read statically, but running
a step imports it, and engine images usually hold stepc and not Metaflow (with its AWS
dependencies). When ``import metaflow`` finds nothing, this finder, consulted last, supplies a
module with stepc's ``FlowSpec``, ``Parameter``, ``step`` and decorators, which is all that
runs in a step under stepc. Other names (``card``, ``kubernetes``, ``conda``, ...) are inert
decorators, as the front end reported them (W203); using one as anything else, such as
``current.retry_count``, raises an error that says why. An installed Metaflow always wins.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from stepc.runtime import markers, metaflow_current

PROVIDED = (
    "FlowSpec", "Parameter", "IncludeFile", "JSONType", "Config", "config_expr",
    "step", "retry", "timeout", "resources", "catch",
)  # fmt: skip


class _Unsupported:
    """A Metaflow name stepc does not provide: inert as a decorator, an error otherwise."""

    def __init__(self, name: str, called: bool = False) -> None:
        self._name = name
        self._called = called  # already given its arguments: only a function may follow

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]  # @card
        if self._called:
            raise TypeError(self._why(f"metaflow.{self._name}(...)(...)"))
        return _Unsupported(self._name, called=True)  # @card(type="default"): the decorator

    def __getattr__(self, attribute: str) -> Any:
        raise AttributeError(self._why(f"metaflow.{self._name}.{attribute}"))

    def __repr__(self) -> str:
        return f"<metaflow.{self._name}: not provided by stepc's stand-in>"

    def _why(self, what: str) -> str:
        return (
            f"{what}: Metaflow is not installed here, and stepc runs the flow without it; install "
            f"metaflow in the step's image to use metaflow.{self._name}"
        )


def _module() -> ModuleType:
    module = ModuleType("metaflow", "stepc's stand-in for Metaflow (not installed here)")
    for name in PROVIDED:
        setattr(module, name, getattr(markers, name))
    module.__dict__.update(
        current=metaflow_current.current,
        __getattr__=_Unsupported,  # PEP 562: any other name
        __stepc_standin__=True,
    )
    return module


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "metaflow":
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return _module()

    def exec_module(self, module: ModuleType) -> None:
        return None


def install() -> None:
    """Make ``import metaflow`` fall back to the stand-in (idempotent; last on the path, so a
    real Metaflow is found first)."""
    if not any(isinstance(finder, _StandInFinder) for finder in sys.meta_path):
        sys.meta_path.append(_StandInFinder())
