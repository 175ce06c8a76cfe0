"""The function dialect (SPEC §2): ``@step`` functions and ``pipeline(...)`` calls to declarations."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import libcst as cst

from stepc.declarations import ModuleDecl, Named, ParamDecl, PipelineDecl, StepDecl, WhenDecl
from stepc.diagnostics import Diagnostic, did_you_mean
from stepc.frontend import arguments as args
from stepc.frontend import engine
from stepc.frontend.arguments import ArgumentError
from stepc.frontend.artifact_types import input_types, output_types
from stepc.frontend.dependencies import DependencyHasher
from stepc.frontend.fingerprint import FunctionNode
from stepc.frontend.flowclass import flow_classes, inherited_flow
from stepc.frontend.imports import ImportTable
from stepc.frontend.literals import Constants, NotStatic, literal_value, static_problems
from stepc.frontend.returns import return_problems, rollback_problems
from stepc.frontend.siblings import ImportedSteps, imported_reference
from stepc.frontend.signature import SignatureError, function_params, pipeline_param
from stepc.frontend.source import SourceFile, SubAnchor
from stepc.ir import Span

STEP_ARGUMENTS = (
    "name", "inputs", "outputs", "after", "foreach", "nested", "when", "retry", "timeout", "cache", "resources",
    "image", "env", "rollback", "group", "weight", "tags", "description", "on_failure",
    "max_parallel", "engine", "secrets",
)  # fmt: skip
PIPELINE_ARGUMENTS = (
    "name", "steps", "image", "schedule", "params", "retry", "timeout", "cache", "resources", "description",
    "max_parallel",
)  # fmt: skip


class FunctionDialect:
    """Reads one module of the function dialect; collect :attr:`diagnostics` after :meth:`read`."""

    def __init__(
        self,
        source: SourceFile,
        imports: ImportTable,
        rel_path: str,
        module_name: str,
        *,
        imported: ImportedSteps | None = None,
        roots: tuple[Path, ...] | None = None,
        read_pipelines: bool = True,
    ) -> None:
        """``imported``: the steps it imports from the project's modules; ``roots``: where those
        modules are found (default: the module's own folder). Without ``read_pipelines`` (a
        module read for the steps a flow imports from it) its ``pipeline(...)`` calls are left
        to a check of that module itself."""
        self.read_pipelines = read_pipelines
        self.source = source
        self.dependencies = DependencyHasher(source.tree, source.display_path, roots)
        self.imported = imported or ImportedSteps()
        # Steps of project modules that a pipeline() names through their module (``s.clean``).
        self._by_attribute: dict[str, StepDecl] = {}
        self.imports = imports
        self.constants = Constants(source.module)
        self.rel_path = rel_path
        self.module_name = module_name
        self.diagnostics: list[Diagnostic] = []
        self.functions = {s.name.value: s for s in source.module.body if isinstance(s, cst.FunctionDef)}
        self.ast_functions = {n.name: n for n in source.tree.body if isinstance(n, FunctionNode)}

    # -- module walk ---------------------------------------------------------------------------

    def read(self, default_image: str) -> ModuleDecl:
        # Imported steps are bound by the module's imports, which come first: they lead the
        # declaration order (the tie-break of the topological order).
        steps: list[StepDecl] = [replace(s, reference=name) for name, s in self.imported.bound.items()]
        broken: set[str] = set(self.imported.broken)
        pipelines: list[PipelineDecl] = []
        # The i-th function definition of the libcst tree is the i-th of the ast tree.
        ast_functions = iter([n for n in self.source.tree.body if isinstance(n, FunctionNode)])
        first_line: dict[str, cst.FunctionDef] = {}
        flow_classes_here = {c.name.value for c in flow_classes(self.source.module, self.imports)}
        for statement in self.source.module.body:
            if isinstance(statement, cst.FunctionDef):
                twin = next(ast_functions)
                decorator = self._step_decorator(statement)
                if decorator is not None:
                    name = statement.name.value
                    if name in first_line:
                        self._error(
                            "S138",
                            f"a second step function '{name}': Python keeps only the last one, so the "
                            f"first (line {self._line(first_line[name])}) would be dropped; rename one",
                            statement.name,
                        )
                        broken.add(name)
                        continue
                    first_line[name] = statement
                    if name in self.imported.bound:
                        where = self._line(self.imported.anchors[name])
                        self._error(
                            "S138",
                            f"step function '{name}' is imported on line {where} too: this def replaces that "
                            "step, which would be dropped; rename one, or import it under another name",
                            statement.name,
                        )
                        broken.add(name)
                        continue
                    step = self._read_step(statement, decorator, twin)
                    if step is None:
                        broken.add(name)
                    else:
                        steps.append(step)
            elif isinstance(statement, cst.ClassDef) and statement.name.value not in flow_classes_here:
                self._methods_marked_as_steps(statement)
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._step_applied_to_an_expression(small)
                    call = self._pipeline_call(small) if self.read_pipelines else None
                    if call is not None:
                        declared = self._read_pipeline(call)
                        if declared is not None:
                            pipelines.append(declared)
        docstring = self.source.module.get_docstring()
        description = docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
        steps = [s for s in steps if s.reference not in first_line]  # replaced by a def: reported above
        steps += [replace(s, reference=name) for name, s in self._by_attribute.items()]
        return ModuleDecl(
            self.rel_path,
            self.module_name,
            tuple(steps),
            tuple(pipelines),
            default_image,
            description,
            broken_steps=frozenset(broken),
        )

    def _line(self, node: cst.CSTNode) -> int:
        return self.source.position(node)[0]

    def _methods_marked_as_steps(self, cls: cst.ClassDef) -> None:
        """``@step`` on a method of a class that is not a FlowSpec: no pipeline can hold it. A
        class with a base (a flow class of another module, most likely) is one report: flow
        inheritance is not supported."""
        marked = [m for m in cls.body.body if isinstance(m, cst.FunctionDef) and self._step_decorator(m) is not None]
        if marked and cls.bases:
            base = cls.bases[0].value
            base_text = cst.Module([]).code_for_node(base)
            self._error("S135", inherited_flow(cls.name.value, f"has steps and derives from '{base_text}'"), base)
            return
        for member in marked:
            self._error(
                "S138",
                f"@step on method '{member.name.value}' of class '{cls.name.value}', which is not a FlowSpec: "
                "a function step is a module-level def (or derive the class from FlowSpec)",
                member.name,
            )

    def _step_applied_to_an_expression(self, small: cst.BaseSmallStatement) -> None:
        """``step(...)(lambda ...)``, ``step(...)(partial(f))`` or ``step(lambda ...)``: nothing
        stepc can read statically, so it would vanish from the pipeline without a word."""
        value = small.value if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign)) else None
        if not isinstance(value, cst.Call) or not value.args:
            return
        target: cst.BaseExpression | None = None
        if isinstance(value.func, cst.Call) and self.imports.refers_to(value.func.func, "step"):
            target = value.args[0].value  # step(...)(target)
        elif self.imports.refers_to(value.func, "step") and isinstance(value.args[0].value, (cst.Lambda, cst.Call)):
            target = value.args[0].value  # step(lambda ...)
        if target is not None:
            self._error(
                "S138",
                "step(...) applied to an expression: a step is a def decorated with @step, which stepc reads "
                "without running the module",
                target,
            )

    def _span(self, node: FunctionNode) -> Span:
        # The standard parser gives positions for free; libcst's metadata pass would cost
        # three parses on every compile just to fill in the IR's spans.
        end_line = node.end_lineno or node.lineno
        column = self.source.char_column
        start, end = column(node.lineno, node.col_offset), column(end_line, node.end_col_offset or 0)
        return Span(self.rel_path, node.lineno, start, end_line, end)

    def _step_decorator(self, func: cst.FunctionDef) -> cst.Decorator | None:
        for decorator in func.decorators:
            target = decorator.decorator
            callee = target.func if isinstance(target, cst.Call) else target
            if self.imports.refers_to(callee, "step"):
                return decorator
        return None

    def _pipeline_call(self, small: cst.BaseSmallStatement) -> cst.Call | None:
        value = small.value if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign)) else None
        if isinstance(value, cst.Call) and self.imports.refers_to(value.func, "pipeline"):
            return value
        return None

    def _error(self, code: str, message: str, anchor: object) -> None:
        self.diagnostics.append(self.source.diagnostic(code, message, anchor))

    def _keyword_values(
        self, call: cst.Call, known: tuple[str, ...], what: str, positional: tuple[str, ...] = ()
    ) -> dict[str, tuple[Any, cst.BaseExpression]]:
        """The static value and node of each argument; unknown or unreadable ones are reported."""
        values: dict[str, tuple[Any, cst.BaseExpression]] = {}
        for index, arg in enumerate(call.args):
            if arg.star:
                self._error("S102", f"'{arg.star}' arguments of {what} cannot be read statically", arg)
                continue
            if arg.keyword is None:
                if index >= len(positional):
                    self._error("S101", f"{what} takes keyword arguments only here: name this argument", arg.value)
                    continue
                key = positional[index]
            else:
                key = arg.keyword.value
                if key not in known:
                    hint = did_you_mean(key, known, synonyms=True)
                    self._error("S101", f"unknown argument '{key}' of {what}{hint}", arg.keyword)
                    continue
            if key == "rollback" or key == "steps":
                values[key] = (None, arg.value)  # function references, read by the caller
                continue
            if key == "on_failure" and isinstance(arg.value, cst.Name) and arg.value.value in self.functions:
                # ZenML's and Airflow's failure hooks are functions; stepc's is the rollback.
                hook = arg.value.value
                message = (
                    f"on_failure is 'fail' or 'continue'; to call {hook}() when the step fails, write rollback={hook}"
                )
                self._error("S103", message, arg.value)
                continue
            try:
                values[key] = (literal_value(arg.value, self.constants), arg.value)
            except NotStatic as exc:
                for problem in static_problems(arg.value, self.constants) or [exc]:
                    self._error("S102", f"{key}: {problem.message}", problem.node)
        return values

    def _read(self, values: dict[str, tuple[Any, cst.BaseExpression]], key: str, reader: Callable[..., Any]) -> Any:
        """``reader(value, node)`` for an argument that was given, None when absent or wrong."""
        if key not in values:
            return None
        value, node = values[key]
        try:
            return reader(value, node)
        except ArgumentError as exc:
            for problem in exc.each():
                self._error(problem.code, problem.message, problem.node)
            return None

    # -- @step ---------------------------------------------------------------------------------

    def _read_step(self, func: cst.FunctionDef, decorator: cst.Decorator, twin: FunctionNode) -> StepDecl | None:
        """The step a decorated function declares; None (with diagnostics) when its signature
        cannot be read. Every argument is read first, so that all problems are reported at once."""
        call = decorator.decorator if isinstance(decorator.decorator, cst.Call) else None
        values = self._keyword_values(call, STEP_ARGUMENTS, "@step") if call else {}
        fn_name = func.name.value
        name_value = self._read(values, "name", lambda v, n: args.read_str(v, n, "name"))
        if name_value is not None and not args.STEP_NAME.match(name_value):
            message = f"step name {name_value!r} may hold letters, digits, '_', '-' and '.' only"
            if not name_value:
                message = "a step name cannot be empty: leave name= out to use the function's name"
            elif not args.STEP_NAME.match(name_value[0]):
                message = f"step name {name_value!r} must start with a letter, a digit or '_'"
            self._error("S103", message, values["name"][1])
            name_value = None
        name = Named(name_value, values["name"][1]) if name_value else Named(fn_name, func.name)
        inputs = [Named(v, n) for v, n in self._read(values, "inputs", args.unique_str_list("inputs")) or []]
        outputs = [Named(v, n) for v, n in self._read(values, "outputs", args.unique_str_list("outputs")) or []]
        for output in outputs:
            if not args.IDENTIFIER.match(output.value):
                self._error("S103", f"output name {output.value!r} must be a Python identifier", output.anchor)
        after = [Named(v, n) for v, n in self._read(values, "after", args.unique_str_list("after")) or []]
        foreach_value = self._read(values, "foreach", lambda v, n: args.read_str(v, n, "foreach"))
        nested_value = self._read(values, "nested", lambda v, n: args.read_bool(v, n, "nested"))
        group_value = self._read(values, "group", lambda v, n: args.read_str(v, n, "group"))
        description = self._read(values, "description", lambda v, n: args.read_str(v, n, "description"))
        if description is None:
            docstring = func.get_docstring()
            description = docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
        bound = self._read(values, "max_parallel", args.read_max_parallel)
        settings = {
            "max_parallel": bound,
            "max_parallel_at": values["max_parallel"][1] if bound is not None else None,
            "when": self._read(values, "when", self._read_when),
            "retry": self._read(values, "retry", args.read_retry),
            "timeout": self._read(values, "timeout", args.read_timeout),
            "cache": self._read(values, "cache", args.read_cache),
            "resources": self._read(values, "resources", args.read_resources),
            "image": self._read(values, "image", args.read_image),
            "env": self._read(values, "env", args.read_env) or (),
            "rollback": self._read_rollback(values.get("rollback")),
            "weight": self._read(values, "weight", args.read_weight),
            "tags": self._read(values, "tags", args.read_tags) or (),
            "on_failure": self._read(values, "on_failure", args.read_on_failure) or "fail",
        }
        span_of = engine.spans(self.source, self.rel_path)
        settings["engine"] = self._read(values, "engine", lambda v, n: engine.read_engine(v, n, span_of)) or ()
        settings["secrets"] = (
            self._read(values, "secrets", lambda v, n: engine.read_secrets(v, n, settings["env"])) or ()
        )

        fparams, problems = function_params(func, self.constants)
        for problem in problems:
            self._error(problem.code, problem.message, problem.node)
        if problems:
            return None
        by_name = {p.name: p for p in fparams}
        for item in inputs:
            if item.value not in by_name:
                hint = did_you_mean(item.value, by_name)
                self._error(
                    "S115",
                    f"input '{item.value}' is not a parameter of {fn_name}(){hint}: add it to the signature",
                    item.anchor,
                )
        input_names = {i.value for i in inputs}
        params: list[ParamDecl] = []
        for fp in fparams:
            if fp.name in input_names:
                continue
            try:
                params.append(pipeline_param(fp))
            except SignatureError as exc:
                self._error(exc.code, exc.message, exc.node)
        self._check_returns(func, twin, name.value, [o.value for o in outputs], values.get("rollback"))
        # An input whose parameter defaults to None still runs when its producer is skipped.
        optional = frozenset(
            fp.name for fp in fparams if fp.name in input_names and fp.has_default and fp.default is None
        )
        return StepDecl(
            name=name,
            function=f"{self.module_name}:{fn_name}",
            inputs=tuple(inputs),
            optional_inputs=optional,
            outputs=tuple(outputs),
            input_types=input_types(fparams, [i.value for i in inputs]),
            output_types=output_types(func, [o.value for o in outputs]),
            params=tuple(params),
            after=tuple(after),
            foreach=Named(foreach_value, values["foreach"][1]) if foreach_value is not None else None,
            nested=values["nested"][1] if nested_value else None,
            group=Named(group_value, values["group"][1]) if group_value is not None else None,
            code_hash=self.dependencies.code_hash(twin),
            description=description,
            span=self._span(twin),
            **settings,
        )

    def _check_returns(
        self,
        func: cst.FunctionDef,
        twin: FunctionNode,
        step: str,
        outputs: list[str],
        rollback: tuple[Any, cst.BaseExpression] | None,
    ) -> None:
        """S141/S142: returns that cannot give the outputs, a rollback that cannot take them."""
        for problem in return_problems(twin, step, outputs):
            if isinstance(problem.node, ast.Return):
                line = problem.node.lineno
                col = self.source.char_column(line, problem.node.col_offset)
                where = (line, col, col + len("return"))
                self.diagnostics.append(self.source.diagnostic_at(problem.code, problem.message, *where))
            else:
                self._error(problem.code, problem.message, func.name)
        target = rollback[1] if rollback is not None else None
        if isinstance(target, cst.Name) and target.value in self.ast_functions:
            for message in rollback_problems(self.ast_functions[target.value], step, outputs):
                self._error("S142", message, target)

    def _read_when(self, value: Any, node: cst.BaseExpression) -> WhenDecl:
        # Imported here: most flows have no condition, and `stepc check` starts on every commit.
        from stepc.frontend.conditions import ConditionError, parse_condition

        text = args.read_str(value, node, "when")
        try:
            condition, uses = parse_condition(text)
        except ConditionError as exc:
            raise ArgumentError(SubAnchor(node, exc.offset, exc.length), "S110", exc.message) from None
        return WhenDecl(condition, tuple(Named(u.name, SubAnchor(node, u.offset, len(u.name))) for u in uses))

    def _function_reference(self, node: cst.BaseExpression, what: str, code: str) -> str | None:
        if isinstance(node, cst.Name) and node.value in self.functions:
            return node.value
        if isinstance(node, cst.SimpleString) and node.evaluated_value in self.functions:
            return str(node.evaluated_value)
        written = node.value if isinstance(node, cst.Name) else self.source.code(node)
        hint = did_you_mean(written, self.functions)
        self._error(code, f"{what} '{written}' is not a function defined in this module{hint}", node)
        return None

    def _step_reference(self, node: cst.BaseExpression) -> str | None:
        """How ``pipeline(steps=[...])`` names a step: a function of this module, a step it imports
        from a project module (``clean``), or one through an imported module (``s.clean``)."""
        found = imported_reference(self.imported, node, self.functions)
        if found is None:
            return self._function_reference(node, "step", "S117")
        if found.problem is not None:
            self._error(*found.problem)
            return None
        if found.step is not None:
            self._by_attribute.setdefault(found.name, found.step)
        return found.name

    def _read_rollback(self, entry: tuple[Any, cst.BaseExpression] | None) -> str | None:
        if entry is None or (isinstance(entry[1], cst.Name) and entry[1].value == "None"):
            return None
        name = self._function_reference(entry[1], "rollback", "S118")
        return f"{self.module_name}:{name}" if name else None

    # -- pipeline(...) -------------------------------------------------------------------------

    def _read_pipeline(self, call: cst.Call) -> PipelineDecl | None:
        values = self._keyword_values(call, PIPELINE_ARGUMENTS, "pipeline()", positional=("name", "steps"))
        name = self._read(values, "name", args.read_pipeline_name)
        if name is None:
            if "name" not in values:
                self._error("S103", "pipeline() needs a name as its first argument", call)
            return None
        steps: list[Named] | None = None
        if "steps" in values:
            node = values["steps"][1]
            if not isinstance(node, (cst.List, cst.Tuple)):
                self._error("S117", "steps= must be a list of step functions, e.g. steps=[load, train]", node)
            else:
                steps = []
                for element in node.elements:
                    fn = self._step_reference(element.value)
                    if fn is not None:
                        steps.append(Named(fn, element.value))
        schedule = self._read(values, "schedule", args.read_schedule)
        params = self._read(values, "params", args.read_params)
        return PipelineDecl(
            name=Named(name, values["name"][1]),
            steps=tuple(steps) if steps is not None else None,
            image=self._read(values, "image", args.read_image),
            schedule=schedule,
            params=params or {},
            retry=self._read(values, "retry", args.read_retry),
            timeout=self._read(values, "timeout", args.read_timeout),
            cache=self._read(values, "cache", args.read_cache),
            resources=self._read(values, "resources", args.read_resources),
            description=self._read(values, "description", lambda v, n: args.read_str(v, n, "description")) or "",
            max_parallel=self._read(values, "max_parallel", args.read_max_parallel),
        )
