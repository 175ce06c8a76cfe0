"""What one method of a flow class does with ``self``: the attributes it reads and sets, and
its ``self.next(...)`` and ``self.merge_artifacts(...)`` calls (SPEC §3).

Found statically from the method's libcst tree: a read is any ``self.x`` that is not an
assignment target, a write any ``self.x = ...`` (``+=`` is both), private ones (``self._x``)
included: the reader checks that those stay in their step. Changing a value in place
(``self.x[k] = v``, ``del self.x[k]``, ``self.x.y = v``, ``self.x.append(v)`` and the other
mutating methods of lists, dicts and sets) is a read and a write too: Metaflow stores every
attribute as the task leaves it, so the step's successors see the changed value. ``getattr(self, "x", ...)``
and ``hasattr(self, "x")`` are reads that may find nothing; ``getattr(self, name)`` with a
name known only at run time may read anything. Attributes starting with an underscore are
private to the task and never artifacts, as in Metaflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

# What Metaflow's FlowSpec (and ours) provides on ``self``: never artifacts.
FLOW_API = frozenset({"next", "merge_artifacts", "foreach_stack", "input", "index", "name"})
# The methods of the built-in containers that change them in place.
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",  # list
    "update", "setdefault", "popitem",  # dict
    "add", "discard", "difference_update", "intersection_update", "symmetric_difference_update",  # set
})  # fmt: skip


@dataclass
class MethodBody:
    """The uses of ``self`` in one method, each with the node of its first occurrence."""

    reads: dict[str, cst.CSTNode] = field(default_factory=dict)
    writes: dict[str, cst.CSTNode] = field(default_factory=dict)
    calls: dict[str, cst.CSTNode] = field(default_factory=dict)  # self.helper(...) calls
    nexts: list[cst.Call] = field(default_factory=list)
    merges: list[cst.Call] = field(default_factory=list)
    api: dict[str, cst.CSTNode] = field(default_factory=dict)  # self.input, self.index, ...
    soft_reads: dict[str, cst.CSTNode] = field(default_factory=dict)  # getattr/hasattr with a literal name
    reads_any: bool = False  # getattr(self, <expression>): every attribute may be read


class _BodyVisitor(cst.CSTVisitor):
    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self.body = MethodBody()
        self._targets: set[int] = set()  # ids of self.x nodes that are assignment targets
        self._updates: set[int] = set()  # ids of self.x nodes that are `+=` targets (read and write)

    def _self_attr(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == self.self_name:
            return node.attr.value
        return None

    def _mark_targets(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._mark_targets(element.value)
        elif isinstance(target, cst.StarredElement):
            self._mark_targets(target.value)
        elif self._self_attr(target) is not None:
            self._targets.add(id(target))
        else:
            self._mark_changed(target)

    def _mark_changed(self, expression: cst.BaseExpression) -> None:
        """``self.x`` changed in place through ``expression`` (``self.x[k]``, ``self.x.y``)."""
        while isinstance(expression, (cst.Subscript, cst.Attribute)) and self._self_attr(expression) is None:
            expression = expression.value
        if self._self_attr(expression) is not None:
            self._targets.add(id(expression))
            self._updates.add(id(expression))

    def visit_Del(self, node: cst.Del) -> None:
        targets = node.target.elements if isinstance(node.target, (cst.Tuple, cst.List)) else []
        for target in [e.value for e in targets] or [node.target]:
            if self._self_attr(target) is None:  # `del self.x` drops it: not a change of its value
                self._mark_changed(target)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._mark_targets(target.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_targets(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_targets(node.target)
        self._updates.add(id(node.target))

    def visit_For(self, node: cst.For) -> None:
        self._mark_targets(node.target)

    def visit_Call(self, node: cst.Call) -> None:
        self._dynamic_read(node)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in MUTATING_METHODS:
            self._mark_changed(node.func.value)
        name = self._self_attr(node.func)
        if name == "next":
            self.body.nexts.append(node)
        elif name == "merge_artifacts":
            self.body.merges.append(node)
        elif name is not None and name not in FLOW_API:
            self.body.calls.setdefault(name, node)

    def _dynamic_read(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value in ("getattr", "hasattr") and len(node.args) >= 2):
            return
        target, attribute = node.args[0].value, node.args[1].value
        if not (isinstance(target, cst.Name) and target.value == self.self_name):
            return
        if isinstance(attribute, cst.SimpleString) and isinstance(attribute.evaluated_value, str):
            name = attribute.evaluated_value
            if not name.startswith("_") and name not in FLOW_API:
                self.body.soft_reads.setdefault(name, attribute)
        else:
            self.body.reads_any = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = self._self_attr(node)
        if name is None:
            return
        if name in FLOW_API:
            self.body.api.setdefault(name, node)
            return
        if name.startswith("__") and name.endswith("__"):  # self.__class__ and the like
            return
        if id(node) in self._targets:
            self.body.writes.setdefault(name, node)
            if id(node) not in self._updates:
                return
        self.body.reads.setdefault(name, node)


def read_body(method: cst.FunctionDef) -> MethodBody:
    """The uses of ``self`` (the method's first parameter) in ``method``."""
    params = method.params.params
    self_name = params[0].name.value if params else "self"
    visitor = _BodyVisitor(self_name)
    method.body.visit(visitor)
    return visitor.body


def last_statement_call(method: cst.FunctionDef) -> cst.Call | None:
    """The call that is the method's last statement, if it is one (where ``self.next`` belongs)."""
    body = method.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return None
    last = body.body[-1]
    if isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1:
        small = last.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            return small.value
    return None
