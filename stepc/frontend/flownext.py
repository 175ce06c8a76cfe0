"""``self.next(...)`` calls of the class dialect to :class:`Transition` values (SPEC §3).

Pure readers: each raises :class:`ArgumentError` at the place of the first problem.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from stepc.declarations import Named
from stepc.frontend.arguments import IDENTIFIER, ArgumentError
from stepc.frontend.flowdecl import Transition
from stepc.frontend.literals import Constants, NotStatic, literal_value


def read_next(call: cst.Call, constants: Constants) -> Transition:
    """The transition a ``self.next(...)`` call declares: linear, split, foreach or switch."""
    keywords: dict[str, Named] = {}
    positional: list[cst.BaseExpression] = []
    for arg in call.args:
        if arg.star:
            raise ArgumentError(arg, "S131", f"'{arg.star}' arguments of self.next cannot be read statically")
        if arg.keyword is None:
            positional.append(arg.value)
            continue
        key = arg.keyword.value
        if key not in ("foreach", "condition"):
            raise ArgumentError(arg.keyword, "S131", f"self.next has no argument '{key}' that stepc supports")
        value = arg.value
        if not (isinstance(value, cst.SimpleString) and IDENTIFIER.match(str(value.evaluated_value))):
            raise ArgumentError(value, "S131", f'{key}= names an attribute of self as a string, e.g. {key}="items"')
        keywords[key] = Named(str(value.evaluated_value), value)
    if len(positional) == 1 and isinstance(positional[0], cst.Dict):
        return _read_switch(call, positional[0], keywords, constants)
    if "condition" in keywords:
        message = "condition= goes with a dict of cases: self.next({'a': self.x, ...}, condition=...)"
        raise ArgumentError(keywords["condition"].anchor, "S131", message)
    if not positional:
        raise ArgumentError(call, "S131", "self.next needs the next step, e.g. self.next(self.train)")
    targets = tuple(_target(node) for node in positional)
    if "foreach" in keywords:
        if len(targets) != 1:
            raise ArgumentError(call, "S131", "a foreach goes to exactly one step")
        return Transition("foreach", targets, call, foreach=keywords["foreach"])
    return Transition("linear" if len(targets) == 1 else "split", targets, call)


def _read_switch(call: cst.Call, cases: cst.Dict, keywords: dict[str, Named], constants: Constants) -> Transition:
    if "condition" not in keywords or "foreach" in keywords:
        raise ArgumentError(call, "S131", "a switch self.next({...}) needs condition='attribute' (and no foreach)")
    read: list[tuple[Any, Named]] = []
    for element in cases.elements:
        if not isinstance(element, cst.DictElement):
            raise ArgumentError(element, "S131", "the cases of a switch are written out: {'a': self.x, 'b': self.y}")
        try:
            key = literal_value(element.key, constants)
        except NotStatic as exc:
            raise ArgumentError(exc.node, "S102", f"switch case: {exc.message}") from None
        if not isinstance(key, (str, int, bool)):
            raise ArgumentError(element.key, "S103", "a switch case is a string, int or bool")
        read.append((key, _target(element.value)))
    if len(read) < 2:
        raise ArgumentError(cases, "S131", "a switch needs at least two cases (one is a plain self.next)")
    targets = tuple(t for _, t in read)
    return Transition("switch", targets, call, condition=keywords["condition"], cases=tuple(read))


def _target(node: cst.BaseExpression) -> Named:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return Named(node.attr.value, node)
    raise ArgumentError(node, "S131", "self.next takes steps as self.<step>")
