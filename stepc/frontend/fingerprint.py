"""Code hashes that ignore formatting: whitespace, comments, redundant parentheses, trailing
commas and the spelling of equal literals ('a' vs "a", 1_000 vs 1000) do not change them.

The hash is taken over the standard ``ast`` tree of the function, which already drops all of
that trivia, positions included, and is parsed at C speed with the rest of the file (a walk
over libcst's ``children`` would rebuild every node and cost more than the parse itself).
The tree is serialised by our own walk rather than ``ast.dump``, whose output changes between
Python versions (3.12 added ``type_params=[]``, 3.13 drops empty fields): the IR must be the
same bytes on every machine.
"""

from __future__ import annotations

import ast
import hashlib

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

# Fields that carry no meaning for the code: ``kind`` is the u-prefix of a string literal,
# ``type_comment`` a comment.
_IGNORED_FIELDS = frozenset({"kind", "type_comment"})


def code_hash(node: FunctionNode) -> str:
    """A 16-hex-digit digest of ``node``'s normalised code (decorators excluded).

    Decorators are left out because they are the step's configuration, which is hashed into
    the cache key separately (parameters, image); changing ``retry=`` must not invalidate it.
    """
    fields = [(name, value) for name, value in ast.iter_fields(node) if name != "decorator_list"]
    return hashlib.sha256(
        "\x1f".join(_tokens(type(node).__name__, fields)).encode("utf-8", "surrogatepass")
    ).hexdigest()[:16]


def node_hash(node: ast.AST) -> str:
    """A 16-hex-digit digest of any node's normalised code (a helper's decorators included:
    they change what it does)."""
    fields = list(ast.iter_fields(node))
    return hashlib.sha256(
        "\x1f".join(_tokens(type(node).__name__, fields)).encode("utf-8", "surrogatepass")
    ).hexdigest()[:16]


def _tokens(head: str, fields: list[tuple[str, object]]) -> list[str]:
    """The tree as a flat token list, walked with an explicit stack: a function body may nest
    deeper than Python's recursion limit allows a recursive walk to follow."""
    out = [head]
    stack: list[object] = [_Fields(fields)]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            out.append(item.text)
        elif isinstance(item, _Fields):
            # Absent and empty fields are skipped, so that fields a newer Python adds with an
            # empty default (``type_params``) leave the hash alone.
            for name, value in reversed(item.fields):
                if value is not None and value != [] and name not in _IGNORED_FIELDS:
                    stack += [value, _Token(name)]
        elif isinstance(item, ast.AST):
            out.append(type(item).__name__)
            stack += [_Token(")"), _Fields(list(ast.iter_fields(item)))]
        elif isinstance(item, list):
            out.append("[")
            stack.append(_Token("]"))
            stack += reversed(item)
        else:
            out.append(f"{type(item).__name__}:{item!r}")
    return out


class _Fields:
    """The fields of one node, still to be written."""

    __slots__ = ("fields",)

    def __init__(self, fields: list[tuple[str, object]]) -> None:
        self.fields = fields


class _Token:
    """A piece of the output, as opposed to a value still to be written."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text
