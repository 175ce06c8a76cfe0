"""Entry points of the front end: a flow file to IR pipelines and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepc.assemble import assemble
from stepc.collector import collector_paused
from stepc.config import Config, find_config
from stepc.diagnostics import Diagnostic, did_you_mean, is_error
from stepc.fanout import bound, read_limits
from stepc.frontend.currentuse import unknown_current_fields
from stepc.frontend.flowclass import ClassDialect
from stepc.frontend.flowdecl import FlowDecl
from stepc.frontend.flowgraph import build_pipeline
from stepc.frontend.functions import FunctionDialect
from stepc.frontend.imports import ImportTable, read_imports
from stepc.frontend.siblings import ProjectModules, SourcesReporter
from stepc.frontend.source import SourceFile, read_source
from stepc.ir import Pipeline
from stepc.projectpaths import package_of, search_roots


@dataclass(frozen=True)
class FileResult:
    pipelines: tuple[Pipeline, ...]
    diagnostics: tuple[Diagnostic, ...]
    passed_over: bool = False  # imports neither stepc nor metaflow: not a flow
    # A module of steps without pipeline(): the producers it leaves to the flows that import it,
    # reported only when it is run or compiled itself (see stepc.assemble.Assembly).
    unwired: tuple[Diagnostic, ...] = ()


def read_file(path: str, *, only_flows: bool = False) -> FileResult:
    """Every pipeline a flow file declares and the diagnostics found reading it.

    With ``only_flows``, files that import neither stepc nor Metaflow are passed over without
    a libcst parse (the pre-commit hook sees every Python file of a repository).
    """
    try:
        with collector_paused():
            return _read_file(path, only_flows)
    except RecursionError:  # code nested deeper than a tree walk can follow: a limit, not a bug
        message = "the module nests expressions too deeply for stepc to read; split the nesting up"
        return FileResult((), (Diagnostic("S002", message, path),))
    except Exception as exc:  # a bug of ours must still not show the user a traceback
        message = f"internal error while reading the file ({type(exc).__name__}: {exc}); please report it"
        return FileResult((), (Diagnostic("S004", message, path),))


def _read_file(path: str, only_flows: bool) -> FileResult:
    read = read_source(path, require_flow_import=only_flows)
    if read.source is None:
        return FileResult((), read.diagnostics, read.passed_over)
    source = read.source
    imports = read_imports(source.module)
    config = find_config(Path(path).parent)
    result = _read_module(source, imports, path, config)
    if not result.pipelines and not result.diagnostics:
        return result  # not a flow: the project's settings are not its business
    limits, config_problems = read_limits(config)
    found = (*result.diagnostics, *config_problems)
    pipelines = () if is_error(found) else tuple(bound(p, limits) for p in result.pipelines)
    return FileResult(pipelines, found, unwired=result.unwired)


def _read_module(source: SourceFile, imports: ImportTable, path: str, config: Config) -> FileResult:
    """The pipelines of one parsed module, of either dialect, before the project's limits."""
    rel_path = config.relative(Path(path))
    module_name = Path(path).stem
    if imports.modules or any(q.endswith(".FlowSpec") for q in imports.names.values()):
        classes = ClassDialect(source, imports, rel_path, module_name, Path(path).resolve().parent)
        flows = classes.read(config.image)
        if flows:
            return _class_result(flows, [*classes.diagnostics, *unknown_current_fields(source, imports)], source)
    flow = Path(path)
    root = config.root or flow.resolve().parent
    roots = search_roots(flow, root)
    modules = ProjectModules(flow, path, roots, config.relative)
    imported = modules.imported_steps(source, flow, package_of(flow.resolve().parent, root))
    dialect = FunctionDialect(source, imports, rel_path, module_name, imported=imported, roots=roots)
    module = dialect.read(config.image)
    problems = [*modules.diagnostics, *dialect.diagnostics]
    if not module.steps and not problems:
        return FileResult((), ())
    assembly = assemble(module, SourcesReporter([source, *modules.sources]))
    found = tuple(dict.fromkeys([*problems, *assembly.diagnostics]))
    # Like any compiler, no output from a module with an error: a step whose argument could
    # not be read would otherwise reach the backends with that setting silently missing.
    return FileResult(() if is_error(found) else tuple(assembly.pipelines), found, unwired=tuple(assembly.unwired))


def _class_result(flows: list[FlowDecl], found: list[Diagnostic], source: SourceFile) -> FileResult:
    """The pipelines of a module of flow classes (one per class), none if any has an error."""
    diagnostics = list(found)
    pipelines = []
    for flow in flows:
        built, problems = build_pipeline(flow, source)
        diagnostics.extend(problems)
        if built is not None:
            pipelines.append(built)
    return FileResult(() if is_error(diagnostics) else tuple(pipelines), tuple(diagnostics))


def load(path: str, pipeline: str | None = None) -> tuple[Pipeline | None, list[Diagnostic]]:
    """The one pipeline of ``path`` named ``pipeline`` (or the only one), or the diagnostics why not."""
    result = read_file(path)
    diagnostics = list(result.diagnostics)
    if not result.pipelines:
        diagnostics += result.unwired  # a module of steps, run or compiled on its own
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    names = [p.name for p in result.pipelines]
    if not names:
        if not diagnostics:
            diagnostics.append(Diagnostic("S003", f"no @step functions found in {path}", path))
        return None, diagnostics
    if pipeline is None:
        if len(names) == 1:
            return result.pipelines[0], diagnostics
        listed = ", ".join(names)
        diagnostics.append(
            Diagnostic("S119", f"{path} declares several pipelines ({listed}): choose one with --pipeline", path)
        )
        return None, diagnostics
    for candidate in result.pipelines:
        if candidate.name == pipeline:
            return candidate, diagnostics
    hint = did_you_mean(pipeline, names)
    message = f"no pipeline named '{pipeline}' in {path}{hint}; it declares: {', '.join(names)}"
    diagnostics.append(Diagnostic("S119", message, path))
    return None, diagnostics


def pipeline_diagnostic(path: str, name: str, code: str, message: str) -> Diagnostic:
    """A diagnostic at the declaration of pipeline ``name`` of ``path`` (its ``pipeline(...)``
    name or its flow class), for a problem found after the IR, which keeps no place of its own;
    at the file's start for a module's implicit pipeline."""
    with collector_paused():
        read = read_source(path, require_flow_import=False)
        if read.source is None:
            return Diagnostic(code, message, path)
        source = read.source
        imports = read_imports(source.module)
        config = find_config(Path(path).parent)
        rel_path, module_name = config.relative(Path(path)), Path(path).stem
        names = [flow.name for flow in ClassDialect(source, imports, rel_path, module_name).read(config.image)]
        if not names:
            module = FunctionDialect(source, imports, rel_path, module_name).read(config.image)
            names = [decl.name for decl in module.pipelines]
    for named in names:
        if named.value == name and named.anchor is not None:
            return source.diagnostic(code, message, named.anchor)
    return Diagnostic(code, message, path)
