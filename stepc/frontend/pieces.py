"""Parsing a large module in pieces of top-level statements, joined into one libcst tree.

libcst's parser costs more per line as a file grows (at 2,000 steps a parse takes 2.3x the
time of 1,000, measured in ``bench/compile.py``), while top-level statements parse alone with
no context but the file's newline and indentation. So a large file is cut at statement
starts (the ``ast`` tree, parsed anyway, gives them), each piece is parsed on its own and the
pieces' statements make one ``Module`` whose code is the file's text: positions, which are
computed from that code, stay exact. Files the pieces could render differently (a carriage
return anywhere, pieces that guess different indentation) are parsed whole.
"""

from __future__ import annotations

import ast

import libcst as cst

# Below this many top-level statements a whole parse is as fast (it is what small files get).
PIECEWISE_FROM = 400
STATEMENTS_PER_PIECE = 50


def parse_module(
    text: str, tree: ast.Module, *, per_piece: int = STATEMENTS_PER_PIECE, piecewise_from: int = PIECEWISE_FROM
) -> cst.Module:
    """The libcst tree of ``text``, whose ``ast`` tree is ``tree``; the same code as
    ``libcst.parse_module(text)``. Raises what that raises."""
    if len(tree.body) < piecewise_from or "\r" in text:
        return cst.parse_module(text)
    starts = _piece_starts(tree, per_piece)
    if len(starts) < 2:
        return cst.parse_module(text)
    lines = text.split("\n")
    bounds = [0, *(s - 1 for s in starts[1:]), len(lines)]
    pieces = []
    for first, last in zip(bounds, bounds[1:], strict=False):
        chunk = "\n".join(lines[first:last])
        pieces.append(cst.parse_module(chunk if last == len(lines) else chunk + "\n"))
    # An indented block that matches its piece's guessed indentation renders with the joined
    # module's, which is the first piece's: a disagreement would change the code.
    if len({p.default_indent for p in pieces}) > 1:
        return cst.parse_module(text)
    return _joined(pieces)


def _piece_starts(tree: ast.Module, per_piece: int) -> list[int]:
    """The 1-based first line (decorators included) of every ``per_piece``-th statement."""
    starts = []
    previous_end = 0
    for index, node in enumerate(tree.body):
        decorators = getattr(node, "decorator_list", ())
        first = min([node.lineno, *(d.lineno for d in decorators)])
        # Two statements on one line (``a = 1; b = 2``) cannot be cut apart.
        if index % per_piece == 0 and first > previous_end:
            starts.append(first)
        previous_end = node.end_lineno or node.lineno
    return starts


def _joined(pieces: list[cst.Module]) -> cst.Module:
    """One module of the pieces' statements: what lies between two pieces (the first's
    footer, the second's header) becomes leading lines of the second's first statement."""
    body: list[cst.BaseStatement] = list(pieces[0].body)
    carried: list[cst.EmptyLine] = list(pieces[0].footer)
    for piece in pieces[1:]:
        statements = list(piece.body)
        lead = [*carried, *piece.header]
        if statements:
            first = statements[0]
            statements[0] = first.with_changes(leading_lines=[*lead, *first.leading_lines])
            carried = list(piece.footer)
        else:
            carried = [*lead, *piece.footer]
        body.extend(statements)
    head = pieces[0]
    return head.with_changes(body=body, footer=carried, has_trailing_newline=pieces[-1].has_trailing_newline)
