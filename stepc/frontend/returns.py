"""What a step function returns and what its rollback takes, checked against its outputs.

Mistakes that would otherwise show only when the step runs: a step with outputs that never
returns a value, a ``return a, b, c`` for two outputs, a rollback function that cannot take the
outputs as keyword arguments (``rollback(**outputs)`` is how it is called). Read from the
``ast`` tree, which is parsed anyway.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from stepc.frontend.fingerprint import FunctionNode

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class ReturnProblem:
    """A diagnostic to make at an ``ast`` node: S141 (returns) or S142 (a rollback's signature)."""

    code: str
    message: str
    node: ast.AST


def _returns(function: FunctionNode) -> Iterator[ast.Return]:
    """The function's own return statements (not those of functions defined inside it)."""
    todo: list[ast.AST] = list(function.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            yield node
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))


def _yields(function: FunctionNode) -> bool:
    todo: list[ast.AST] = list(function.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _only_raises(function: FunctionNode) -> bool:
    """A body that ends by raising (``raise NotImplementedError``): it returns nothing on purpose."""
    return bool(function.body) and isinstance(function.body[-1], ast.Raise)


def return_problems(function: FunctionNode, step: str, outputs: list[str]) -> list[ReturnProblem]:
    """S141 for each way the function's returns cannot give ``outputs``."""
    if not outputs or _yields(function):
        return []
    returns = list(_returns(function))
    valued = [r for r in returns if r.value is not None]
    if not valued and not _only_raises(function):
        message = (
            f"step '{step}' declares outputs {outputs} but never returns a value: "
            f"end it with return {', '.join(outputs)}"
        )
        return [ReturnProblem("S141", message, function)]
    problems = []
    for ret in valued:
        value = ret.value
        if len(outputs) > 1 and isinstance(value, ast.Tuple | ast.List):
            if any(isinstance(e, ast.Starred) for e in value.elts) or len(value.elts) == len(outputs):
                continue
            message = (
                f"step '{step}' returns {len(value.elts)} values here, but declares {len(outputs)} outputs "
                f"{outputs}: return one value per output, in that order"
            )
            problems.append(ReturnProblem("S141", message, ret))
    return problems


def rollback_problems(rollback: FunctionNode, step: str, outputs: list[str]) -> list[str]:
    """Why ``rollback(**outputs)`` would fail (S142 messages); [] when it takes them."""
    args = rollback.args
    by_keyword = [a.arg for a in (*args.args, *args.kwonlyargs)]
    problems = []
    if args.kwarg is None:
        refused = [o for o in outputs if o not in by_keyword]
        if refused:
            problems.append(
                f"rollback {rollback.name}() of step '{step}' is called with the step's outputs as keyword "
                f"arguments, and takes no '{refused[0]}': add it (or **outputs) to its parameters"
            )
    positional = [*args.posonlyargs, *args.args]
    required = [a.arg for a in positional[: len(positional) - len(args.defaults)]]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    # `rollback_data` is given what the step kept with current.rollback_data (None if nothing).
    missing = [name for name in required if name not in outputs and name != "rollback_data"]
    if missing:
        problems.append(
            f"rollback {rollback.name}() of step '{step}' requires '{missing[0]}', which is not an output of the "
            f"step (its outputs: {outputs or 'none'}): give it a default or remove it"
        )
    return problems
