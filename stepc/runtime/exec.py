"""Run one task: import the flow module, read the inputs, call the function, write the outputs.

:func:`execute` is the single code path for running user code. ``stepc exec`` (every backend)
calls it in a fresh process; the local interpreter calls it in a child forked from a runner
that has already imported stepc and the flow module. Everything the attempt prints, including
the traceback of a failure, goes to the attempt's log file in the store.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import importlib.util
import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from stepc.ir import Parameter
from stepc.items import item_text
from stepc.params import DefaultError
from stepc.projectpaths import flow_package, search_roots
from stepc.runtime import flowspec, metaflow_standin
from stepc.runtime.context import current
from stepc.runtime.faults import StoreError, writing
from stepc.runtime.plan import BoundInput, Task
from stepc.runtime.store import ArtifactMeta, CorruptArtifact, Store, TaskResult


class StepError(Exception):
    """A problem with what the user's function returned (wrong number of outputs, ...)."""


# --- importing user code ------------------------------------------------------------------


def load_module(
    flow_path: str | os.PathLike[str], module_name: str, fresh: bool = False, packages: Iterable[str] = ()
) -> ModuleType:
    """Import the flow file as ``module_name`` (once per process, or again when ``fresh``: a
    long-lived caller must see edits), with its folder on sys.path so that the flow's own
    sibling imports work as they do under ``python flow.py``.

    The project root is put on sys.path too, so that steps and helpers imported from the
    project's own modules import as the front end found them. A flow whose name is already
    taken by another module (a flow called ``json.py``, say) is
    imported under ``stepc_flow_<name>`` instead of shadowing it; every stepc process does the
    same, so pickled objects of the flow's own classes still find their module.
    """
    path = Path(flow_path).resolve()
    roots = search_roots(path)
    # A flow that imports relatively (``from .steps import clean``) is a module of its package,
    # as under ``python -m pkg.flow``; the front end resolved its imports the same way.
    package = flow_package(path, path.read_text(encoding="utf-8", errors="replace"))
    name = f"{package}.{module_name}" if package else module_name
    taken = sys.modules.get(name)
    if taken is not None and not getattr(taken, "__stepc_flow__", False):
        name = f"stepc_flow_{module_name}"
    loaded = sys.modules.get(name)
    if not fresh and loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    # The flow's folder first, then the project root: where the front end found its modules.
    for folder in reversed([str(root) for root in roots]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    if fresh:
        forget_project_modules(path.parent)
        if len(roots) > 1:
            # Above the flow's folder only the packages its steps come from: the root holds
            # modules of everything else in the project too (a test runner's, say).
            forget_project_modules(roots[1], set(packages))
    metaflow_standin.install()  # a Metaflow flow runs where only stepc is installed
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    module.__stepc_flow__ = True  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def forget_project_modules(folder: Path, packages: set[str] | None = None) -> None:
    """Drop the modules imported from the flow's folder (its helpers), so that a long-lived
    process (a notebook calling ``stepc.run``) imports them again as they are now, as the code
    hash that decided what to rerun saw them; stepc's own modules stay. With ``packages``,
    only the modules of those top-level names."""
    root = str(folder.resolve()) + os.sep
    for name, module in list(sys.modules.items()):
        if packages is not None and name.partition(".")[0] not in packages:
            continue
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            where = os.path.realpath(file)
            if where.startswith(root) and not where.startswith(_STEPC_DIR):
                del sys.modules[name]


def default_evaluator(flow_path: str | os.PathLike[str], module_name: str) -> Callable[[Parameter], Any]:
    """What computes a parameter's computed default (``Parameter.default_expr``): the flow
    module imported as it is now, then the expression evaluated in its namespace, as Metaflow
    evaluates a class attribute's default when it imports the flow. A failure is one
    :class:`DefaultError` line; the traceback of a failed import is not the user's concern here,
    the steps report it again."""
    imported: list[ModuleType] = []

    def evaluate(param: Parameter) -> Any:
        what = f"the default {param.default_expr} of parameter '{param.name}'"
        try:
            if not imported:
                imported.append(load_module(flow_path, module_name, fresh=True))
            return eval(param.default_expr or "None", vars(imported[0]))  # noqa: S307 - the user's own flow code
        except Exception as exc:
            raise DefaultError(f"{what} cannot be computed: {type(exc).__name__}: {exc}") from None

    return evaluate


def resolve(ref: str, module: ModuleType, flow_name: str) -> Any:
    """``module:function`` or ``module:Class.method``; ``flow_name`` is the flow module's name
    in the IR, answered by ``module`` whatever name it was imported under."""
    module_name, _, attr = ref.partition(":")
    target: Any = module if module_name in ("", flow_name) else importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


# --- output capture -----------------------------------------------------------------------

_STEPC_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
TRACEBACK_HEAD = "Traceback (most recent call last):"


def _user_frames(error: traceback.TracebackException) -> None:
    """Drop stepc's and the import machinery's frames from ``error`` and the errors it chains
    to, unless no frame would be left (a bug in stepc is shown whole)."""
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        kept = [
            f
            for f in current.stack
            if not f.filename.startswith(_STEPC_DIR) and not f.filename.startswith("<frozen importlib")
        ]
        if kept:
            current.stack = traceback.StackSummary.from_list(kept)
        todo += [current.__cause__, current.__context__]


def user_traceback(exc: BaseException) -> str:
    """The traceback of an error in user code, with the user's own frames only (file:line)."""
    error = traceback.TracebackException.from_exception(exc)
    _user_frames(error)
    return "".join(error.format())


def last_traceback(log: str) -> str:
    """The last traceback a log holds (what a failed attempt printed), or empty."""
    start = log.rfind(TRACEBACK_HEAD)
    if start < 0:
        return ""
    end = log.find("\n[stepc] ", start)  # the runner's own note after a killed attempt
    return log[start:] if end < 0 else log[start : end + 1]


@contextmanager
def captured(log_path: Path) -> Iterator[None]:
    """Send file descriptors 1 and 2 (so prints, C extensions and subprocesses alike) to the
    log, then put them back."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    try:
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except FileNotFoundError:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = (os.dup(1), os.dup(2))
    saved_streams = (sys.stdout, sys.stderr)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    # Fresh stream objects: the parent's may be a test harness's capture or hold a lock.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True, encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True, encoding="utf-8")
    # A segfault in user code then leaves a Python stack in the step's log.
    was_enabled = faulthandler.is_enabled()
    faulthandler.enable(file=sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = saved_streams
        faulthandler.disable()
        if was_enabled and saved_streams[1] is not None:
            with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
                faulthandler.enable(file=saved_streams[1])
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


# --- calling the function -----------------------------------------------------------------


def load_inputs(store: Store, inputs: tuple[BoundInput, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The value of each input, and for an item input the whole list it is an item of."""
    values: dict[str, Any] = {}
    whole: dict[str, Any] = {}
    for bound in inputs:
        if bound.mode == "none":
            values[bound.name] = None
        elif bound.mode == "gather":
            values[bound.name] = [store.read_artifact(meta) for meta in bound.artifacts]
        elif bound.mode == "item":
            assert bound.index is not None
            whole[bound.name] = store.read_artifact(bound.artifacts[0])
            values[bound.name] = whole[bound.name][bound.index]
        else:
            values[bound.name] = store.read_artifact(bound.artifacts[0])
    return values, whole


def split_outputs(value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A function with one output returns it; with several, a tuple in the declared order."""
    if not names:
        return {}
    if len(names) == 1:
        return {names[0]: value}
    if not isinstance(value, tuple | list) or len(value) != len(names):
        got = f"{len(value)} values" if isinstance(value, tuple | list) else f"one {type(value).__name__}"
        raise StepError(f"the step declares {len(names)} outputs {list(names)} but returned {got}")
    return dict(zip(names, value, strict=True))


def execute(
    task: Task,
    store: Store,
    flow_path: str | os.PathLike[str],
    module_name: str,
) -> TaskResult:
    """Run ``task`` once and record it: ``result.json`` on success, an attempt status otherwise.

    Never raises for a failure of user code: the traceback goes to the log and the returned
    result says ``failed``.
    """
    started = time.time()
    log_path = store.log_path(task.run_id, task.location, task.item, task.attempt)
    outputs: list[ArtifactMeta] = []
    counts: dict[str, int] = {}
    error: str | None = None
    outcome: flowspec.Outcome | None = None
    continued: str | None = None  # the error an on_failure="continue" step went on after
    # A store write that finds no room (the log included) is StoreFull: the machine's problem,
    # not the step's, so it is not recorded as the step failing but ends the attempt.
    with writing(store.root, f"the log of step '{task.step}' ({store.relative(log_path)})"), captured(log_path):
        try:
            module = load_module(flow_path, module_name)
            if task.kind == "flowspec":
                # "module:Class.method": the class, then the method on it (see flowspec.run_step).
                owner, _, method = task.function.rpartition(".")
                cls = resolve(owner, module, module_name)
            else:
                function = resolve(task.function, module, module_name)
                values, _ = load_inputs(store, task.inputs)
                kwargs: dict[str, Any] = {**task.params, **values}
            os.environ.update(task.env)
            # Who am I, for user code that wants to know (names follow the exec command line).
            os.environ.update(
                STEPC_RUN_ID=task.run_id,
                STEPC_STEP=task.step,
                STEPC_ITEM=item_text(task.item),
                STEPC_ATTEMPT=str(task.attempt),
            )
            current._enter(task, store)
            try:
                if task.kind == "flowspec":
                    outcome = flowspec.run_step(task, cls, method, store)
                    results = outcome.outputs
                else:
                    results = split_outputs(function(**kwargs), task.outputs)
            finally:
                current._leave()
            for name in task.foreach_outputs:
                if name not in results and task.kind == "flowspec":
                    continue  # not set this time; a foreach over it then has no length to go by
                value = results.get(name)
                if not isinstance(value, list | tuple):
                    raise StepError(
                        f"output '{name}' feeds a foreach, so it must be a list, not {type(value).__name__}"
                    )
                counts[name] = len(value)
            for name in task.outputs:
                if name not in results:
                    if task.kind == "flowspec":
                        continue  # a class-dialect step saves the attributes it did set
                    raise StepError(f"the step did not set output '{name}'")
                outputs.append(store.write_artifact(task.run_id, task.location, task.item, name, results[name]))
        except StoreError:
            raise
        except (StepError, flowspec.FlowError, CorruptArtifact) as exc:  # no stepc internals to show
            error = str(exc)
            print(f"stepc: step '{task.step}' failed: {error}", file=sys.stderr)
        except BaseException as exc:  # user code may raise anything, SystemExit included
            sys.stderr.write(user_traceback(exc))
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        if error is not None and task.kind == "function" and task.catch is not None and task.final:
            # on_failure="continue": the failure is recorded, the outputs are None, the run goes on.
            print(f"stepc: step '{task.step}' failed on its last attempt; on_failure='continue': its outputs are None")
            outputs = [store.write_artifact(task.run_id, task.location, task.item, n, None) for n in task.outputs]
            counts = {name: 0 for name in task.foreach_outputs}  # a fan-out over it has no items
            continued, error = error, None
    store.publish(log_path)
    result = TaskResult(
        status="failed" if error else "succeeded",
        step=task.location,
        item=task.item,
        attempt=task.attempt,
        started=started,
        ended=time.time(),
        outputs=tuple(outputs),
        counts=counts,
        error=error,
        exit_code=1 if error else 0,
        next=None if outcome is None or error else outcome.next,
        switch=None if outcome is None or error else outcome.switch,
        caught=continued if continued is not None else None if outcome is None or error else outcome.caught,
    )
    if error is None:
        store.commit(task.run_id, result)
        if task.iteration and task.step not in (result.next or ()):
            # The last pass of a recursive switch: the step's own result is this one.
            store.commit(task.run_id, replace(result, step=task.step))
    else:
        store.write_status(task.run_id, result)
    return result


def call_rollback(
    ref: str, flow_path: str | os.PathLike[str], module_name: str, outputs: Mapping[str, Any], data: Any = None
) -> None:
    """Call a rollback function with the step's outputs as keyword arguments, and what the step
    kept with ``current.rollback_data`` as ``rollback_data`` when it takes that (an output of
    that name comes first)."""
    import inspect

    module = load_module(flow_path, module_name)
    function = resolve(ref, module, module_name)
    kwargs = dict(outputs)
    try:
        takes = "rollback_data" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): outputs only
        takes = False
    if takes:
        kwargs.setdefault("rollback_data", data)
    function(**kwargs)
