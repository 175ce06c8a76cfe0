"""Code hashes that ignore formatting: whitespace, comments, redundant parentheses, trailing
commas and the spelling of equal literals ('a' vs "a", 1_000 vs 1000) do not change them."""

from __future__ import annotations

import ast
import hashlib

import libcst as cst

_TRIVIA = (
    cst.SimpleWhitespace,
    cst.ParenthesizedWhitespace,
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Newline,
    cst.Comment,
    cst.LeftParen,
    cst.RightParen,
    cst.Comma,
    cst.Decorator,
)
_LITERALS = (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)


def _tokens(node: cst.CSTNode, out: list[str]) -> None:
    if isinstance(node, _TRIVIA):
        return
    out.append(type(node).__name__)
    if isinstance(node, _LITERALS):
        out.append(repr(ast.literal_eval(node.value)))
        return
    value = getattr(node, "value", None)
    if isinstance(value, str):
        out.append(value)
    for child in node.children:
        _tokens(child, out)


def code_hash(node: cst.CSTNode) -> str:
    """A 16-hex-digit digest of ``node``'s normalised code (decorators excluded)."""
    out: list[str] = []
    _tokens(node, out)
    return hashlib.sha256("\x1f".join(out).encode()).hexdigest()[:16]
