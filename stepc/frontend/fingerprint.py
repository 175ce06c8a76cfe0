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
    out: list[str] = [type(node).__name__]
    for name, value in ast.iter_fields(node):
        if name != "decorator_list":
            _field(name, value, out)
    return hashlib.sha256("\x1f".join(out).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _field(name: str, value: object, out: list[str]) -> None:
    # Absent and empty fields are skipped, so that fields a newer Python adds with an empty
    # default (``type_params``) leave the hash alone.
    if value is None or value == [] or name in _IGNORED_FIELDS:
        return
    out.append(name)
    _value(value, out)


def _value(value: object, out: list[str]) -> None:
    if isinstance(value, ast.AST):
        out.append(type(value).__name__)
        for name, child in ast.iter_fields(value):
            _field(name, child, out)
        out.append(")")
    elif isinstance(value, list):
        out.append("[")
        for item in value:
            _value(item, out)
        out.append("]")
    else:
        out.append(f"{type(value).__name__}:{value!r}")
