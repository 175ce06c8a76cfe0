"""Code hashes that ignore formatting: whitespace, comments, redundant parentheses, trailing
commas and the spelling of equal literals ('a' vs "a", 1_000 vs 1000) do not change them.

The hash is taken over the standard ``ast`` dump of the function, which already drops all of
that trivia, positions included. It is computed at C speed from the tree the reader parsed
anyway; a walk over libcst's ``children`` would rebuild every node and cost more than the
parse itself.
"""

from __future__ import annotations

import ast
import hashlib

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def code_hash(node: FunctionNode) -> str:
    """A 16-hex-digit digest of ``node``'s normalised code (decorators excluded).

    Decorators are left out because they are the step's configuration, which is hashed into
    the cache key separately (parameters, image); changing ``retry=`` must not invalidate it.
    """
    decorators = node.decorator_list
    node.decorator_list = []
    try:
        dumped = ast.dump(node, annotate_fields=False, include_attributes=False)
    finally:
        node.decorator_list = decorators
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]
