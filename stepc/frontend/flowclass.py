"""The class dialect (SPEC §3): ``FlowSpec`` subclasses, from stepc or Metaflow, to declarations.

Read statically like the function dialect: names resolve through the module's imports, so a
Metaflow flow is read without Metaflow installed and nothing of the flow is imported. The
graph (``self.next``) and the artifacts are checked and wired by :mod:`stepc.frontend.flowgraph`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libcst as cst

from stepc.declarations import Named, ParamDecl
from stepc.diagnostics import Diagnostic, Severity, did_you_mean
from stepc.frontend import arguments as args
from stepc.frontend.arguments import ArgumentError
from stepc.frontend.configscope import ClassScope
from stepc.frontend.dependencies import DependencyHasher
from stepc.frontend.fingerprint import FunctionNode
from stepc.frontend.flowbody import MethodBody, last_statement_call, read_body
from stepc.frontend.flowconfigs import ConfigDecl, is_config, read_config
from stepc.frontend.flowdecl import FlowDecl, FlowStepDecl, MergeDecl, Transition
from stepc.frontend.flowdecorators import class_decorators, mutator_base, step_settings
from stepc.frontend.flownext import read_next
from stepc.frontend.flowparams import read_parameter
from stepc.frontend.imports import FLOW_LIBRARIES, ImportTable
from stepc.frontend.literals import Constants, NotStatic, Scope, literal_value, static_problems
from stepc.frontend.source import SourceFile
from stepc.ir import Span


def flow_classes(module: cst.Module, imports: ImportTable) -> list[cst.ClassDef]:
    """The module-level classes deriving from ``FlowSpec`` (of stepc or Metaflow)."""
    return [
        s
        for s in module.body
        if isinstance(s, cst.ClassDef) and any(imports.refers_to(b.value, "FlowSpec") for b in s.bases)
    ]


def inherited_flow(name: str, how: str) -> str:
    """S135's message for a flow class built on another flow class (Metaflow's flow inheritance)."""
    return (
        f"class '{name}' {how}, not from FlowSpec itself: flow inheritance (steps, parameters or configs"
        " of a base flow class) is not supported; stepc reads a flow class whose base is FlowSpec"
    )


class ClassDialect:
    """Reads the flow classes of one module; collect :attr:`diagnostics` after :meth:`read`."""

    def __init__(
        self, source: SourceFile, imports: ImportTable, rel_path: str, module_name: str, folder: Path | None = None
    ) -> None:
        self.source = source
        self.dependencies = DependencyHasher(source.tree, source.display_path)
        self.imports = imports
        self.module_constants = Constants(source.module)
        # What the class being read can name: the module's constants, and its configs once read.
        self.constants: Scope = self.module_constants
        self.folder = folder or Path(".")  # the flow's folder, where a config's relative path starts
        self.rel_path = rel_path
        self.module_name = module_name
        self.diagnostics: list[Diagnostic] = []
        self.functions = {n.name for n in source.tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        self.mutators = {
            s.name.value: base
            for s in source.module.body
            if isinstance(s, cst.ClassDef) and (base := mutator_base(imports, s))
        }

    def read(self, default_image: str) -> list[FlowDecl]:
        ast_classes = {n.name: n for n in self.source.tree.body if isinstance(n, ast.ClassDef)}
        docstring = self.source.module.get_docstring()
        module_description = _first_line(docstring)
        flows = []
        classes = flow_classes(self.source.module, self.imports)
        for cls in classes:
            flows.append(self._read_class(cls, ast_classes[cls.name.value], default_image, module_description))
        self._report_derived_flows({c.name.value for c in classes})
        return flows

    def _report_derived_flows(self, flow_names: set[str]) -> None:
        """A class deriving from one of the module's flow classes would be passed over: S135."""
        for statement in self.source.module.body:
            if not isinstance(statement, cst.ClassDef):
                continue
            for base in statement.bases:
                if isinstance(base.value, cst.Name) and base.value.value in flow_names:
                    message = inherited_flow(statement.name.value, f"derives from the flow class '{base.value.value}'")
                    self.report("S135", message, base.value)

    # -- helpers -------------------------------------------------------------------------------

    def report(self, code: str, message: str, anchor: object, severity: Severity = "error") -> None:
        self.diagnostics.append(self.source.diagnostic(code, message, anchor, severity))

    def _api(self, node: cst.BaseExpression) -> str | None:
        """``"retry"`` for a name that means ``stepc.retry`` or ``metaflow.retry``, else None."""
        qualified = self.imports.qualify(node)
        if qualified is None:
            return None
        library, _, name = qualified.partition(".")
        return name if library in FLOW_LIBRARIES and "." not in name else None

    def read_arguments(
        self,
        call: cst.Call,
        known: tuple[str, ...],
        what: str,
        positional: tuple[str, ...] = (),
        unread: tuple[str, ...] = (),
    ) -> dict[str, tuple[Any, cst.CSTNode]]:
        """Static arguments of ``call`` by name (leading positional ones named by ``positional``;
        those in ``unread`` kept as nodes, value None); unknown and dynamic ones are reported."""
        values: dict[str, tuple[Any, cst.CSTNode]] = {}
        for index, arg in enumerate(call.args):
            if arg.star:
                self.report("S102", f"'{arg.star}' arguments of {what} cannot be read statically", arg)
                continue
            if arg.keyword is None and (index >= len(positional) or any(a.keyword for a in call.args[:index])):
                self.report("S101", f"{what} takes keyword arguments only here: name this argument", arg.value)
                continue
            key = positional[index] if arg.keyword is None else arg.keyword.value
            if key not in known:
                hint = did_you_mean(key, known, synonyms=True)
                self.report(
                    "W203",
                    f"argument '{key}' of {what} is not supported by stepc: it is ignored{hint}",
                    arg.keyword or arg,
                    "warning",
                )
                continue
            if key in unread:
                values[key] = (None, arg.value)
                continue
            try:
                values[key] = (literal_value(arg.value, self.constants), arg.value)
            except NotStatic as exc:
                for problem in static_problems(arg.value, self.constants) or [exc]:
                    self.report("S102", f"{key}: {problem.message}", problem.node)
        return values

    def is_function(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` names a function of this module (``default=compute`` in a Parameter)."""
        return isinstance(node, cst.Name) and node.value in self.functions

    def checked(self, reader: Callable[..., Any], *arguments: Any) -> Any:
        """``reader(*arguments)``, or None when it reports a problem (which is recorded)."""
        try:
            return reader(*arguments)
        except ArgumentError as exc:
            for problem in exc.each():
                self.report(problem.code, problem.message, problem.node)
            return None

    # -- the class -----------------------------------------------------------------------------

    def _read_class(self, cls: cst.ClassDef, twin: ast.ClassDef, default_image: str, module_doc: str) -> FlowDecl:
        params: list[ParamDecl] = []
        members: set[str] = set()
        methods: list[tuple[cst.FunctionDef, cst.Decorator]] = []
        helpers: dict[str, cst.FunctionDef] = {}
        ast_methods = {n.name: n for n in twin.body if isinstance(n, FunctionNode)}
        seen_steps: set[str] = set()
        configs = self._configs(cls)
        for statement in _class_body(cls):
            if isinstance(statement, cst.FunctionDef):
                members.add(statement.name.value)
                decorator = next((d for d in statement.decorators if self.decorator_api(d) == "step"), None)
                if decorator is None:
                    helpers[statement.name.value] = statement
                elif statement.name.value in seen_steps:
                    self.report("S105", f"a step named '{statement.name.value}' is declared twice", statement.name)
                else:
                    seen_steps.add(statement.name.value)
                    methods.append((statement, decorator))
            else:
                param = None if is_config(self, statement) else read_parameter(self, statement)
                if param is not None:
                    params.append(param)
                members.update(_assigned_names(statement))
        members -= {p.attr for p in params}
        steps = []
        end = self._end_step(methods)
        for method, decorator in methods:
            method_twin = ast_methods[method.name.value]
            steps.append(self._read_step(cls, method, decorator, method_twin, helpers, members, end))
        schedule, project = class_decorators(self, cls)
        return FlowDecl(
            name=Named(cls.name.value, cls.name),
            path=self.rel_path,
            module=self.module_name,
            steps=tuple(steps),
            params=tuple(params),
            default_image=default_image,
            description=_first_line(cls.get_docstring()) or module_doc,
            schedule=schedule,
            project=project,
            configs=tuple(configs),
        )

    def _configs(self, cls: cst.ClassDef) -> list[ConfigDecl]:
        """The class's configs, read first: decorators and parameter defaults of the class
        use them (``@environment(vars={"N": cfg.n})``, ``config_expr("cfg.a")``)."""
        configs = []
        for statement in _class_body(cls):
            if not isinstance(statement, cst.FunctionDef) and is_config(self, statement):
                assert isinstance(statement, cst.Assign)
                config = read_config(self, statement)
                if config is not None:
                    configs.append(config)
        functions = {s.name.value: s for s in self.source.module.body if isinstance(s, cst.FunctionDef)}
        self.constants = ClassScope(
            self.module_constants,
            self.imports,
            {c.attribute: c.value for c in configs},
            {c.name: c.value for c in configs},
            functions,
        )
        return configs

    def decorator_api(self, decorator: cst.Decorator) -> str | None:
        target = decorator.decorator
        return self._api(target.func if isinstance(target, cst.Call) else target)

    # -- a step --------------------------------------------------------------------------------

    def _read_step(
        self,
        cls: cst.ClassDef,
        method: cst.FunctionDef,
        decorator: cst.Decorator,
        twin: FunctionNode,
        helpers: dict[str, cst.FunctionDef],
        members: set[str],
        end: str,
    ) -> FlowStepDecl:
        name = method.name.value
        marks: dict[str, tuple[Any, cst.CSTNode]] = {}
        if isinstance(decorator.decorator, cst.Call):  # Metaflow 2.19: @step(start=True), @step(end=True)
            marks = self.read_arguments(decorator.decorator, ("start", "end"), "@step")
        positional = [p for p in method.params.params]
        signature = method.params
        if isinstance(signature.star_arg, cst.Param) or signature.kwonly_params or signature.star_kwarg is not None:
            self.report("S123", f"step {name}(self) or {name}(self, inputs) takes no other parameters", method.params)
        if len(positional) > 2 or not positional:
            self.report("S133", f"step {name} must take (self) or, for a join, (self, inputs)", method.name)
        is_join = len(positional) == 2
        body = read_body(method)
        reads: dict[str, object] = dict(body.reads)
        writes: dict[str, object] = dict(body.writes)
        soft_reads = set(body.soft_reads)
        reads_any = body.reads_any
        for helper in _called_helpers(body, helpers):
            helper_body = read_body(helper)
            for attr, node in helper_body.reads.items():
                reads.setdefault(attr, node)
            for attr, node in helper_body.writes.items():
                writes.setdefault(attr, node)
            soft_reads |= set(helper_body.soft_reads)
            reads_any = reads_any or helper_body.reads_any
        transition = self._transition(method, body, name == end)
        for used in (transition.foreach, transition.condition) if transition else ():
            if used is not None:  # self.next reads the attribute it fans out over or switches on
                reads.setdefault(used.value, used.anchor)
        for private, where in reads.items():
            if private.startswith("_") and private not in writes and private not in members:
                message = (
                    f"step '{name}' reads self.{private}, which it does not set: private attributes stay in the "
                    f"step that sets them, so make it public (self.{private.lstrip('_')}) to pass it on"
                )
                self.report("S136", message, where)
        reads = {k: v for k, v in reads.items() if k not in members and not k.startswith("_")}
        writes = {k: v for k, v in writes.items() if k not in members and not k.startswith("_")}
        settings = step_settings(self, method)
        catch = settings.catch
        if catch is not None and catch[0]:
            writes.setdefault(catch[0], catch[1])
        foreach_uses = {k: v for k, v in body.api.items() if k in ("input", "index", "foreach_stack")}
        first_use = next(iter(foreach_uses.items()), None)
        return FlowStepDecl(
            name=Named(name, method.name),
            is_start=marks.get("start", (False, None))[0] is True,
            is_end=marks.get("end", (False, None))[0] is True,
            function=f"{self.module_name}:{cls.name.value}.{name}",
            is_join=is_join,
            transition=transition,
            reads=tuple(Named(k, v) for k, v in reads.items()),
            writes=tuple(Named(k, v) for k, v in writes.items()),
            merges=tuple(m for m in (self._merge(call) for call in body.merges) if m is not None),
            soft_reads=tuple(sorted(soft_reads - set(reads) - members)),
            reads_any=reads_any,
            foreach_api=Named(first_use[0], first_use[1]) if first_use else None,
            catch=catch[0] if catch else None,
            code_hash=self.dependencies.code_hash(twin),
            description=_first_line(method.get_docstring()),
            span=self._span(twin),
            retry=settings.retry,
            timeout=settings.timeout,
            resources=settings.resources,
            image=settings.image,
            env=settings.env,
            engine=settings.engine,
            secrets=settings.secrets,
        )

    def _span(self, node: FunctionNode) -> Span:
        end_line = node.end_lineno or node.lineno
        column = self.source.char_column
        start, end = column(node.lineno, node.col_offset), column(end_line, node.end_col_offset or 0)
        return Span(self.rel_path, node.lineno, start, end_line, end)

    def _end_step(self, methods: list[tuple[cst.FunctionDef, cst.Decorator]]) -> str:
        """The flow's last step, as Metaflow finds it (see ``FlowDecl.end``); several steps
        marked ``@step(start=True)`` (or ``end=True``) are reported here."""
        found = {}
        for mark in ("start", "end"):
            marked = [m for m, d in methods if _marked(d, mark)]
            for extra in marked[1:]:
                self.report("S130", f"several steps are marked @step({mark}=True): mark one", extra.name)
            found[mark] = marked[0].name.value if marked else mark
        return methods[0][0].name.value if len(methods) == 1 else found["end"]

    def _transition(self, method: cst.FunctionDef, body: MethodBody, is_end: bool) -> Transition | None:
        name = method.name.value
        last = last_statement_call(method)
        calls = body.nexts
        if is_end:
            if calls:
                self.report("S131", f"the end step ('{name}') must not call self.next", calls[0])
            return None
        if not calls:
            self.report(
                "S131", f"step '{name}' never calls self.next(...): end it with where the flow goes next", method.name
            )
            return None
        if len(calls) > 1 or last is not calls[0]:
            self.report(
                "S131",
                f"step '{name}' must call self.next exactly once, as its last statement",
                calls[-1] if len(calls) > 1 else calls[0],
            )
            return None
        return self.checked(read_next, calls[0], self.constants)  # type: ignore[no-any-return]

    def _merge(self, call: cst.Call) -> MergeDecl | None:
        values = self.read_arguments(
            call.with_changes(args=[a for a in call.args if a.keyword is not None]),
            ("include", "exclude"),
            "merge_artifacts()",
        )
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("include", "exclude"):
            if key in values:
                items = self.checked(args.read_str_list, *values[key], key)
                if items is None:
                    return None
                lists[key] = tuple(v for v, _ in items)
        if lists.get("include") and lists.get("exclude"):
            self.report("S103", "merge_artifacts takes include= or exclude=, not both", call)
            return None
        return MergeDecl(lists.get("include", ()), lists.get("exclude", ()), call)


def _class_body(cls: cst.ClassDef) -> Iterator[cst.FunctionDef | cst.BaseSmallStatement]:
    """The methods and simple statements of a class body (others, e.g. nested classes, skipped)."""
    body = cls.body
    if isinstance(body, cst.SimpleStatementSuite):  # class Flow(FlowSpec): x = 1
        yield from body.body
        return
    for statement in body.body:
        if isinstance(statement, cst.FunctionDef):
            yield statement
        elif isinstance(statement, cst.SimpleStatementLine):
            yield from statement.body


def _assigned_names(small: cst.BaseSmallStatement) -> list[str]:
    if isinstance(small, cst.Assign):
        return [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
    if isinstance(small, (cst.AnnAssign, cst.AugAssign)) and isinstance(small.target, cst.Name):
        return [small.target.value]
    return []


def _called_helpers(body: MethodBody, helpers: dict[str, cst.FunctionDef]) -> list[cst.FunctionDef]:
    """The non-step methods a step calls on self, transitively: their uses of self count as its own."""
    found: dict[str, cst.FunctionDef] = {}
    pending = [n for n in body.calls if n in helpers]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = helpers[name]
        pending.extend(n for n in read_body(helpers[name]).calls if n in helpers)
    return [found[n] for n in sorted(found)]


def _marked(decorator: cst.Decorator, mark: str) -> bool:
    """``@step(start=True)`` for ``mark="start"`` (a literal True only)."""
    call = decorator.decorator
    if not isinstance(call, cst.Call):
        return False
    return any(
        a.keyword is not None and a.keyword.value == mark and isinstance(a.value, cst.Name) and a.value.value == "True"
        for a in call.args
    )


def _arg_node(call: cst.Call, index: int) -> cst.CSTNode:
    return call.args[index].value if len(call.args) > index else call


def _first_line(docstring: str | None) -> str:
    return docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
