"""Deploying a flow to Airflow: compile it to its DAG file, put the file in the dags folder, and
wait (bounded) until the DAG processor has parsed exactly that file, or has failed to.

"Parsed" means the DAG's latest source in Airflow equals the text written, so a re-submit of a
changed flow never runs the old DAG. An import error counts when it is new since the write
(import errors of a file stay listed until the file parses again).
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from stepc.config import Config
from stepc.diagnostics import Diagnostic
from stepc.runtime.files import atomic_write
from stepc.submit import SubmitError

if TYPE_CHECKING:
    import airflow_client.client as af

    from stepc.ir import Pipeline
    from stepc.submit.client import Airflow

IMPORT_ERROR_CODE = "T202"
REPARSE_EVERY = 10.0  # seconds between requests to re-parse a known DAG's file


@dataclass(frozen=True)
class CompiledDag:
    """The DAG file of one pipeline, as `stepc compile --target airflow` writes it."""

    pipeline: Pipeline
    dag_id: str
    file_name: str
    content: str

    @property
    def shape(self) -> tuple[frozenset[str], frozenset[str]]:
        """The task ids (every ``task_id=`` of the file is a literal) and parameter names."""
        tasks = {
            ast.literal_eval(k.value)
            for node in ast.walk(ast.parse(self.content))
            if isinstance(node, ast.Call)
            for k in node.keywords
            if k.arg == "task_id" and isinstance(k.value, ast.Constant)
        }
        return frozenset(tasks), frozenset(p.name for p in self.pipeline.params)


def dag_id_of(content: str) -> str:
    """The ``dag_id=`` of the ``DAG(...)`` call in a generated file: what Airflow will call it."""
    for node in ast.walk(ast.parse(content)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DAG":
            for keyword in node.keywords:
                if keyword.arg == "dag_id":
                    value = ast.literal_eval(keyword.value)
                    if isinstance(value, str):
                        return value
    raise SubmitError("the generated DAG file has no dag_id (a stepc bug: please report it)")


def compile_dag(flow: str, pipeline_name: str | None, config: Config) -> tuple[CompiledDag | None, list[Diagnostic]]:
    """Compile ``flow`` for Airflow with the project's settings; None when there are errors."""
    from stepc.diagnostics import (
        is_error,
        relocate,  # the user's path and line in diagnostics
    )
    from stepc.frontend import load
    from stepc.targets import load_target

    pipeline, diagnostics = load(flow, pipeline_name)
    if pipeline is None:
        return None, diagnostics
    backend = load_target("airflow")(config, None)
    files, problems = backend.compile(pipeline)
    diagnostics = [
        *diagnostics,
        *relocate(problems, pipeline.source, flow, {s.span.file for s in pipeline.steps if s.span}),
    ]
    if is_error(diagnostics) or not files:
        return None, diagnostics
    (generated,) = files
    return CompiledDag(pipeline, dag_id_of(generated.content), generated.path, generated.content), diagnostics


def write_dag(folder: Path, dag: CompiledDag) -> Path:
    """Write the DAG file into the dags folder atomically: the DAG processor never reads half a
    file. The folder must exist (a typo must not create a folder no one parses)."""
    if not folder.is_dir():
        raise SubmitError(
            f"the dags folder {folder} does not exist (set --dags-folder or [tool.stepc.airflow] dags_folder)"
        )
    path = folder / dag.file_name
    try:
        atomic_write(path, dag.content.encode("utf-8"))
    except OSError as exc:
        raise SubmitError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def error_marks(client: Airflow, file_name: str) -> set[tuple[int, str]]:
    """The import errors listed for the file now, to tell new ones from old ones later."""
    return {(e.import_error_id, e.timestamp.isoformat()) for e in client.import_errors(file_name)}


def import_error_diagnostic(error: af.ImportErrorResponse, path: Path, content: str) -> Diagnostic:
    """An Airflow import error as a stepc diagnostic at the line of the file the trace names."""
    trace = error.stack_trace or ""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "unknown error"
    at = [int(m.group(1)) for m in re.finditer(rf'File "[^"]*{re.escape(path.name)}", line (\d+)', trace)]
    line = at[-1] if at else 1
    source = content.splitlines()
    diagnostic = Diagnostic(
        IMPORT_ERROR_CODE,
        f"Airflow cannot import the DAG file: {last}",
        str(path),
        line=line,
        source_line=source[line - 1].expandtabs(1) if 0 < line <= len(source) else "",
    )
    return replace(diagnostic, col=len(diagnostic.source_line) - len(diagnostic.source_line.lstrip()) + 1)


def wait_parsed(
    client: Airflow,
    dag: CompiledDag,
    path: Path,
    old_errors: set[tuple[int, str]],
    timeout: float,
    poll: float,
) -> tuple[af.DAGResponse | None, list[Diagnostic]]:
    """Wait until Airflow has parsed this exact file: the DAG, or the import errors as
    diagnostics. Known DAGs are re-parsed on request rather than at the processor's next turn.

    The source Airflow shows is not enough: the DAG processor stores a changed file's source at
    once but rewrites the serialized DAG (what runs) at most every ``[core]
    min_serialized_dag_update_interval`` (30 s), so the tasks and parameters must agree too."""
    deadline = time.monotonic() + timeout
    asked: float | None = None
    while True:
        known = client.dag(dag.dag_id)
        source_seen = known is not None and client.dag_source(dag.dag_id) == dag.content
        if source_seen and client.shape(dag.dag_id) == dag.shape:
            return known, []
        errors = [
            e for e in client.import_errors(path.name) if (e.import_error_id, e.timestamp.isoformat()) not in old_errors
        ]
        if errors:
            return None, [import_error_diagnostic(e, path, dag.content) for e in errors]
        if known is not None and known.file_token and (asked is None or time.monotonic() - asked > REPARSE_EVERY):
            client.reparse(known.file_token)
            asked = time.monotonic()
        if time.monotonic() >= deadline and source_seen:
            raise SubmitError(
                f"Airflow at {client.url} has read {path} but still has the previous tasks or parameters of DAG "
                f"{dag.dag_id!r} after {timeout:g}s (it re-serializes a DAG at most every [core] "
                "min_serialized_dag_update_interval seconds; --parse-timeout waits longer)"
            )
        if time.monotonic() >= deadline:
            raise SubmitError(
                f"Airflow at {client.url} has not parsed {path} after {timeout:g}s: is {path.parent} the dags "
                "folder of its DAG processor, and is the DAG processor running? (--parse-timeout waits longer)"
            )
        time.sleep(poll)
