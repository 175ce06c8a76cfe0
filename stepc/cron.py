"""Cron expressions: the five-field form every engine accepts, checked field by field."""

from __future__ import annotations

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_FIELDS = [
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
]


def cron_error(expression: str) -> str | None:
    """None when ``expression`` is a valid cron schedule, else what is wrong with it."""
    text = expression.strip()
    if text in MACROS:
        return None
    if text.startswith("@"):
        return f"unknown schedule {text!r}: use five fields or one of {', '.join(MACROS)}"
    fields = text.split()
    if len(fields) != 5:
        return f"a cron schedule has 5 fields (minute hour day-of-month month day-of-week), {len(fields)} given"
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        problem = _field_error(value, low, high, names)
        if problem:
            return f"bad {name} field {value!r}: {problem}"
    return None


def _number(text: str, low: int, high: int, names: list[str] | None) -> int | None:
    if names and text.upper() in names:
        return names.index(text.upper()) + (1 if names is _MONTHS else 0)
    if not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def _field_error(value: str, low: int, high: int, names: list[str] | None) -> str | None:
    for item in value.split(","):
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return f"step '{step}' must be a positive number"
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _number(start, low, high, names)
        if first is None:
            return f"'{start}' is not in {low}-{high}"
        if dash:
            last = _number(end, low, high, names)
            if last is None:
                return f"'{end}' is not in {low}-{high}"
            if last < first:
                return f"range {base} runs backwards"
    return None
