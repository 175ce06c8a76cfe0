"""Target naming rules: sanitise names to what an engine accepts, stably and without collisions."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    """What one kind of name may look like on a target.

    ``invalid`` matches every character that must be replaced by ``replacement``; names are
    lower-cased when ``lower`` is set, cut to ``max_length`` and must start with a character
    matching ``start`` (else ``prefix`` is put in front).
    """

    max_length: int
    invalid: re.Pattern[str]
    replacement: str = "-"
    lower: bool = True
    start: re.Pattern[str] = re.compile(r"[a-z]")
    prefix: str = "s"
    strip: str = "-"
    case_insensitive: bool = False  # collisions are judged ignoring case (GitHub job ids)

    def clean(self, name: str) -> str:
        text = name.lower() if self.lower else name
        text = self.invalid.sub(self.replacement, text)
        if self.replacement:
            text = re.sub(re.escape(self.replacement) + "+", self.replacement, text)
        text = text.strip(self.strip)
        if not text or not self.start.match(text):
            text = f"{self.prefix}{self.replacement}{text}" if text else self.prefix
        return text


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]


def _shorten(text: str, original: str, rule: NameRule) -> str:
    """Cut to length, ending with a hash of the original so cuts of long names stay distinct."""
    suffix = f"{rule.replacement or '-'}{_digest(original)}"
    head = text[: rule.max_length - len(suffix)].rstrip(rule.strip)
    return f"{head}{suffix}"


def assign_names(names: list[str], rule: NameRule, reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """A target name for each of ``names``: valid, unique, and the same on every run.

    A name keeps its cleaned spelling when that fits and no other name cleans to the same
    text; otherwise it ends with a short hash of the original, so that the result depends
    only on the names themselves and two names never share a target name.
    """

    def key(text: str) -> str:
        return text.lower() if rule.case_insensitive else text

    cleaned = {name: rule.clean(name) for name in names}
    counts: dict[str, int] = {}
    for text in cleaned.values():
        counts[key(text)] = counts.get(key(text), 0) + 1
    taken = {key(r) for r in reserved}
    result: dict[str, str] = {}
    for name in sorted(names):
        text = cleaned[name]
        salt = ""
        while len(text) > rule.max_length or counts[key(cleaned[name])] > 1 or key(text) in taken:
            text = _shorten(cleaned[name], name + salt, rule)
            if key(text) not in taken:
                break
            salt += "+"
        taken.add(key(text))
        result[name] = text
    return result
