"""Reading a flow file: bytes to text to a libcst tree, and where things are in it.

Positions cost a metadata pass (about three parses), so they are resolved lazily, once per
file, the first time a diagnostic needs one. The standard ``ast`` tree is parsed beside the
libcst one: at C speed it gives function spans and code hashes, and it rejects what Python
itself would reject (``1 = x``) that libcst's grammar lets through.
"""

from __future__ import annotations

import ast
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from stepc.diagnostics import Diagnostic, Severity
from stepc.frontend.filebytes import Unreadable, decode_module, read_module_bytes
from stepc.frontend.pieces import parse_module as parse_in_pieces

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

# A cheap test that lets files which cannot be flows be passed over without a libcst parse.
_IMPORTS_FLOW_LIBRARY = re.compile(
    r"^[ \t]*(?:from[ \t]+(?:stepc|metaflow)\b|import[ \t]+[^\n#]*\b(?:stepc|metaflow)\b)", re.M
)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """The lines as Python counts them (``str.splitlines`` also breaks at form feeds and more)."""
    return _LINE_BREAK.split(text)


def imports_flow_library(text: str) -> bool:
    return _IMPORTS_FLOW_LIBRARY.search(text) is not None


def is_blank(text: str) -> bool:
    """Whether ``text`` holds no code: only blank lines and comments."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


@dataclass(frozen=True)
class SubAnchor:
    """A stretch inside a single-line string literal, e.g. one name in a ``when`` text."""

    node: cst.CSTNode
    offset: int
    length: int


class SourceFile:
    """One parsed flow file: its text, tree, and a diagnostics factory that knows positions."""

    def __init__(self, display_path: str, text: str, module: cst.Module, tree: ast.Module) -> None:
        self.display_path = display_path
        self.text = text
        # Positions are resolved on the tree as written; ``module`` is the one with identifiers
        # as Python reads them (NFKC), whose nodes ``_written`` maps back where they differ.
        self._layout = module
        self.module, self._written = normalise_identifiers(module, text)
        self.tree = tree
        self._lines = source_lines(text)
        self._positions: dict[cst.CSTNode, CodeRange] | None = None

    def char_column(self, line: int, byte_offset: int) -> int:
        """The 1-based character column of a 0-based UTF-8 byte offset (``ast``'s unit) in ``line``."""
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        return len(text.encode()[:byte_offset].decode(errors="replace")) + 1

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def _resolved(self) -> dict[cst.CSTNode, CodeRange]:
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider  # only when a diagnostic needs it

            wrapper = MetadataWrapper(self._layout, unsafe_skip_copy=True)
            self._positions = dict(wrapper.resolve(PositionProvider))
        return self._positions

    def owns(self, anchor: object) -> bool:
        """Whether ``anchor`` is a place in this file (a flow's diagnostics may point into the
        project modules it imports steps from)."""
        node = anchor.node if isinstance(anchor, SubAnchor) else anchor
        return isinstance(node, cst.CSTNode) and self._written.get(node, node) in self._resolved()

    def position(self, anchor: object) -> tuple[int, int, int | None]:
        """(line, col, end_col-or-None), 1-based, of a node or a :class:`SubAnchor`."""
        self._positions = self._resolved()
        if isinstance(anchor, SubAnchor):
            rng = self._positions.get(self._written.get(anchor.node, anchor.node))
            if rng is None:
                return (1, 1, None)
            columns = literal_columns(anchor.node) if rng.start.line == rng.end.line else None
            if columns is None or anchor.offset >= len(columns):
                return (rng.start.line, rng.start.column + 1, None)
            first = rng.start.column + 1 + columns[anchor.offset]
            last = rng.start.column + 1 + columns[min(len(columns) - 1, anchor.offset + max(1, anchor.length))]
            return (rng.start.line, first, max(last, first + 1))
        rng = self._positions.get(self._written.get(anchor, anchor)) if isinstance(anchor, cst.CSTNode) else None
        if rng is None:
            return (1, 1, None)
        end = rng.end.column + 1 if rng.end.line == rng.start.line else None
        return (rng.start.line, rng.start.column + 1, end)

    def diagnostic(self, code: str, message: str, anchor: object, severity: Severity = "error") -> Diagnostic:
        line, col, end_col = self.position(anchor)
        return make_diagnostic(self.display_path, self._lines, code, message, line, col, end_col, severity)

    def diagnostic_at(
        self, code: str, message: str, line: int, col: int, end_col: int | None, severity: Severity = "error"
    ) -> Diagnostic:
        """A diagnostic at a place known already (from the ``ast`` tree: no metadata pass)."""
        return make_diagnostic(self.display_path, self._lines, code, message, line, col, end_col, severity)


class _Normaliser(cst.CSTTransformer):
    """Rewrites every identifier to its NFKC form and remembers each rebuilt node's original."""

    def __init__(self) -> None:
        super().__init__()
        self.written: dict[cst.CSTNode, cst.CSTNode] = {}

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        if isinstance(updated_node, cst.Name):
            value = unicodedata.normalize("NFKC", updated_node.value)
            if value != updated_node.value:
                updated_node = updated_node.with_changes(value=value)
        if updated_node is not original_node:
            self.written[updated_node] = original_node
        return updated_node


def normalise_identifiers(module: cst.Module, text: str) -> tuple[cst.Module, dict[cst.CSTNode, cst.CSTNode]]:
    """``module`` with its names as Python reads them: PEP 3131 makes ``ℌ`` and ``H`` one name
    (the ``ast`` tree has them so already), and a step, a method or an attribute must be found
    under either spelling. Most files are NFKC already and are returned as they are."""
    if unicodedata.is_normalized("NFKC", text):
        return module, {}
    normaliser = _Normaliser()
    normalised = module.visit(normaliser)
    assert isinstance(normalised, cst.Module)
    return normalised, normaliser.written


_SIMPLE_ESCAPES = set("\n\\'\"abfnrtv")


def literal_columns(node: cst.CSTNode) -> list[int] | None:
    """For a one-line string literal: the column (from the token's start) of each character of
    its value, and one past the last. Escapes make the two differ: in ``"a\\tb"`` the ``b`` is
    value character 2 but source column 4."""
    if not isinstance(node, cst.SimpleString):
        return None
    raw = node.value
    prefix = len(raw) - len(raw.lstrip("rRbBuU"))
    quote = 3 if raw[prefix:].startswith(('"""', "'''")) else 1
    start, end = prefix + quote, len(raw) - quote
    if "r" in raw[:prefix].lower():
        return list(range(start, end + 1))
    columns: list[int] = []
    i = start
    while i < end:
        if raw[i] != "\\" or i + 1 >= end:
            columns.append(i)
            i += 1
            continue
        kind = raw[i + 1]
        if kind == "\n":  # a backslash-newline adds no character
            i += 2
            continue
        if kind in _SIMPLE_ESCAPES:
            width = 2
        elif kind == "x":
            width = 4
        elif kind == "u":
            width = 6
        elif kind == "U":
            width = 10
        elif kind == "N":
            width = raw.find("}", i) + 1 - i if raw.find("}", i) > 0 else 2
        elif kind in "01234567":
            width = 2 + sum(1 for c in raw[i + 2 : i + 4] if c in "01234567")
            width = min(width, 4) if all(c in "01234567" for c in raw[i + 1 : i + width]) else 2
        else:  # an unknown escape keeps both characters
            columns.extend((i, i + 1))
            i += 2
            continue
        columns.append(i)
        i += width
    columns.append(end)
    return columns


def make_diagnostic(
    path: str,
    lines: list[str],
    code: str,
    message: str,
    line: int,
    col: int,
    end_col: int | None = None,
    severity: Severity = "error",
) -> Diagnostic:
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(code, message, path, line, col, severity, source_line.expandtabs(1), end_col)


@dataclass(frozen=True)
class ReadResult:
    source: SourceFile | None
    diagnostics: tuple[Diagnostic, ...] = ()
    passed_over: bool = False  # the file imports neither stepc nor metaflow


def read_source(path: str, *, require_flow_import: bool) -> ReadResult:
    """Read and parse ``path``; every failure is a diagnostic, never an exception."""
    data = read_module_bytes(path)
    if isinstance(data, Unreadable):
        return _fail(path, "S001", data.message, data.line, data.col)
    text = decode_module(data)
    if isinstance(text, Unreadable):
        # The line shown is for people: undecodable bytes show as U+FFFD.
        shown = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
        return _fail(path, "S001", text.message, text.line, text.col, source_lines(shown))
    if require_flow_import and not imports_flow_library(text) and not is_blank(text):
        # A blank file is read (and has no step): it is no helper module but a flow not yet written.
        return ReadResult(None, (), passed_over=True)
    lines = source_lines(text)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return ReadResult(None, (make_diagnostic(path, lines, "S002", "source contains a null byte", line, 1),))
    # Python's own parser first: it is fast, and its messages and places are the ones users know
    # ("'(' was never closed"); libcst's grammar errors list expected tokens instead.
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" and the like are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line, col = exc.lineno or 1, exc.offset or 1
        return ReadResult(None, (make_diagnostic(path, lines, "S002", f"syntax error: {exc.msg}", line, col),))
    except (ValueError, RecursionError, MemoryError) as exc:
        return ReadResult(None, (make_diagnostic(path, lines, "S002", f"syntax error: {exc}", 1, 1),))
    try:
        module = parse_in_pieces(text, tree)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        return ReadResult(
            None,
            (make_diagnostic(path, lines, "S002", f"syntax error: {message}", exc.raw_line, exc.raw_column + 1),),
        )
    except Exception as exc:  # libcst raises a few other types on pathological input
        return ReadResult(None, (make_diagnostic(path, lines, "S002", f"syntax error: {exc}", 1, 1),))
    return ReadResult(SourceFile(path, text, module, tree))


def _fail(
    path: str, code: str, message: str, line: int = 1, col: int = 1, lines: list[str] | None = None
) -> ReadResult:
    if lines is None:
        return ReadResult(None, (Diagnostic(code, f"{path} {message}", path, line, col),))
    return ReadResult(None, (make_diagnostic(path, lines, code, f"{path} {message}", line, col),))
