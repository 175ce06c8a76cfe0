"""Diagnostics: values that say what is wrong, where, and what to do about it.

They are collected and returned by every room, never raised across rooms. Rendering to text,
JSON or GitHub annotations happens here; printing happens in the CLI.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]

# The stable code table. The README's table is generated from it (tests keep them in sync).
CODES: dict[str, str] = {
    "S001": "the file cannot be read (missing, not a regular file, over 10 MiB, or not text in its PEP 263 encoding)",
    "S002": "syntax error in the module",
    "S003": (
        "no steps: a flow file (one that imports stepc, or an empty one named on the command line) declares none, "
        "or a pipeline() lists none"
    ),
    "S004": "internal error in stepc (please report it)",
    "S101": "unknown argument of @step or pipeline()",
    "S102": (
        "value is not a literal or a module-level constant, or cannot be stored "
        "(not finite, over 64 bits, a non-string dict key, nested too deeply)"
    ),
    "S103": "argument has the wrong type or form",
    "S104": "input has no producer",
    "S105": "duplicate step name",
    "S106": "artifact produced by more than one step, or listed twice",
    "S107": "cycle between steps",
    "S108": "foreach names neither an input nor a list parameter",
    "S109": "parameter type or default conflicts between steps",
    "S110": (
        "bad `when` expression, or one reading a list as one value (a foreach's results or the list it runs "
        "over), or a gather of items a condition skips one by one"
    ),
    "S111": "unknown name in a `when` expression",
    "S112": "bad resource value or unit (a plain number of bytes under 1 MiB included)",
    "S113": "bad cron schedule",
    "S114": "negative or zero retry, timeout, weight or max_parallel",
    "S115": "input is not a parameter of the step function",
    "S116": "`after` names an unknown step",
    "S117": "`steps=` of pipeline() names something that is not a step",
    "S118": "rollback is not a function of the module",
    "S119": "no such pipeline, or several and none chosen",
    "S120": "bad cache policy",
    "S121": "parameter annotation is not a supported type",
    "S122": "default value does not match the parameter's type",
    "S123": "function signature cannot be read (*args, **kwargs, positional-only parameters, async def)",
    "S124": "bad step group (not consecutive, or mixes foreach)",
    "S125": "duplicate pipeline name",
    "S126": "bad nested foreach: `nested=True` without a foreach over a foreach step's output, or results read "
    "more than one foreach level out",
    "S130": "flow class without a `start` or an `end` step",
    "S131": "bad `self.next(...)`: missing, not the last statement, or naming something that is not a step",
    "S132": "unreachable step in a flow class",
    "S133": "bad join: branches meet in a step without `inputs`, or a join closes no fan-out",
    "S134": "foreach never joined, or `self.input`/`self.index` outside a foreach",
    "S135": (
        "flow class construct stepc does not support (a switch condition that may come from several steps,"
        " a flow class deriving from another flow class)"
    ),
    "S136": "a step reads an attribute that no step before it sets",
    "S137": "bad Parameter declaration (not one plain attribute, a reserved name, or set in a step)",
    "S138": (
        "a step stepc would drop: a second step function of one name, `@step` on a plain class's method, "
        "or `step(...)` applied to something other than a def"
    ),
    "S139": "bad @project: no name, or not lowercase letters, digits and underscores",
    "S140": "a step parameter has the name of an upstream output, and no inputs= reads it",
    "S141": "a step's returns cannot give its outputs (no return value, or another number of values)",
    "S142": "a rollback function cannot take the step's outputs as keyword arguments",
    "S143": "a condition compares a parameter with a value of another type (or tests a non-bool parameter bare)",
    "S150": (
        "an import of the project's own modules that cannot work: no such module or name, or a relative "
        "import outside a package"
    ),
    "T101": "the target cannot express a feature the step uses (an error), or expresses it only in part (a warning)",
    "T103": (
        "unknown setting of a target (in `[tool.stepc.<target>]` or a step's `engine=`), or a value of the wrong "
        "type or form (also a `[tool.stepc]` key, e.g. a `timezone` or `kill_grace` that is none)"
    ),
    "T104": "two pipelines would write the same output file (names alike once made file names, or but for case)",
    "T201": "generated output fails the target's own lint (a stepc bug: please report it)",
    "T202": "the engine could not import the deployed file (stepc submit)",
    "W201": "step is not part of any pipeline()",
    "W203": "decorator or argument stepc does not support: ignored",
    "W204": "a field of `metaflow.current` that stepc does not provide (reading it fails at run time)",
}


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``line``/``col`` are 1-based; ``source_line`` is the text of that line."""

    code: str
    message: str
    file: str
    line: int = 1
    col: int = 1
    severity: Severity = "error"
    source_line: str = ""
    end_col: int | None = None  # end of the underline on the same line, exclusive

    def render_text(self) -> str:
        head = f"{self.file}:{self.line}:{self.col}: {self.severity}[{self.code}]: {self.message}"
        if not self.source_line:
            return head
        width = max(1, (self.end_col or self.col + 1) - self.col)
        gutter = f"{self.line:>4} | "
        caret = " " * (len(gutter) - 2) + "| " + " " * (self.col - 1) + "^" + "~" * (width - 1)
        return f"{head}\n{gutter}{self.source_line}\n{caret}"

    def render_github(self) -> str:
        kind = "error" if self.severity == "error" else "warning"
        message = f"[{self.code}] {self.message}".replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        file = self.file.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
        return f"::{kind} file={file},line={self.line},col={self.col},title=stepc {self.code}::{message}"


def is_error(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.col, d.code)


def render(diags: list[Diagnostic], fmt: Literal["text", "json", "github"]) -> str:
    """All diagnostics in one document, sorted by place."""
    ordered = sorted(diags, key=sort_key)
    if fmt == "json":
        return json.dumps([asdict(d) for d in ordered], indent=2, sort_keys=True) + "\n"
    if fmt == "github":
        return "".join(d.render_github() + "\n" for d in ordered)
    return "".join(d.render_text() + "\n" for d in ordered)


def relocate(diagnostics: list[Diagnostic], source: str, path: str, modules: Iterable[str] = ()) -> list[Diagnostic]:
    """Backends point at the IR's project-relative file: show the user's ``path`` and the line.
    A step imported from another of the project's ``modules`` (project-relative too) points at
    that module's file, found the same way from where ``path`` has the project root."""
    import tokenize

    prefix = path[: -len(source)] if path.replace("\\", "/").endswith(source) else None
    others = set(modules) - {source} if prefix is not None else set()
    lines: dict[str, list[str]] = {}

    def line_of(shown: str, number: int) -> str:
        if shown not in lines:
            try:
                # The front end read the file already (a regular one); its coding line still counts here.
                with tokenize.open(shown) as handle:
                    lines[shown] = handle.read().splitlines()
            except (OSError, SyntaxError, UnicodeDecodeError):
                lines[shown] = []
        found = lines[shown]
        return found[number - 1] if 0 < number <= len(found) else ""

    moved = []
    for d in diagnostics:
        shown = path if d.file == source else (f"{prefix}{d.file}" if d.file in others else None)
        if shown is not None:
            d = replace(d, file=shown, source_line=line_of(shown, d.line).expandtabs(1))
        moved.append(d)
    return moved


def did_you_mean(name: str, candidates: Iterable[str], *, synonyms: bool = False) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string.

    With ``synonyms`` (for argument and setting names, not the user's own names), another
    system's name for a candidate (``max_retries`` for ``retry``) is found first, by meaning.
    """
    options = sorted(set(candidates))
    if synonyms:
        from stepc.synonyms import meaning  # only a mistake needs the table

        meant = meaning(name, options)
        if meant is not None:
            return f" (did you mean '{meant}'?)"
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
