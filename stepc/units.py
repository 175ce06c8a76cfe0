"""Resource quantities and durations: user spellings to plain numbers."""

from __future__ import annotations

import math
import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class UnitError(ValueError):
    pass


def _finite(number: int | float | str, what: str) -> float:
    """``number`` as a float, or a :class:`UnitError` when it is too large to mean anything."""
    try:
        value = float(number)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise UnitError(f"{what} {number!r} is not a finite number")
    return value


def parse_cpu(value: object) -> float:
    """Cores: ``2``, ``0.5``, ``"500m"``, ``"2"``."""
    if isinstance(value, bool):
        raise UnitError("cpu must be a number of cores or a string like '500m'")
    if isinstance(value, (int, float)):
        cores = _finite(value, "cpu")
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match or match.group(2) not in ("", "m"):
            raise UnitError(f"bad cpu quantity {value!r}: use cores (2, 0.5) or millicores ('500m')")
        cores = _finite(match.group(1), "cpu") / (1000 if match.group(2) == "m" else 1)
    else:
        raise UnitError("cpu must be a number of cores or a string like '500m'")
    if cores <= 0:
        raise UnitError("cpu must be more than 0")
    return cores


def parse_bytes(value: object, what: str = "memory") -> int:
    """Bytes from ``"512Mi"``, ``"4Gi"``, ``"1G"`` or a plain number of bytes."""
    if isinstance(value, bool):
        raise UnitError(f"{what} must be a quantity such as '512Mi' or '4Gi'")
    if isinstance(value, (int, float)):
        amount, plain = _finite(value, what), True
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise UnitError(f"bad {what} quantity {value!r}: use a number and a unit such as '512Mi' or '4Gi'")
        number, unit = match.groups()
        factor = _BINARY.get(unit) or _DECIMAL.get(unit) or (1 if unit == "" else None)
        if factor is None:
            hint = f" (did you mean '{number}{unit[0].upper()}i'?)" if unit[:1].upper() in "KMGTPE" and unit else ""
            raise UnitError(f"unknown {what} unit {unit!r} in {value!r}: use Ki, Mi, Gi, Ti or k, M, G, T{hint}")
        amount, plain = _finite(float(number) * factor, what), unit == ""
    else:
        raise UnitError(f"{what} must be a quantity such as '512Mi' or '4Gi'")
    if amount <= 0:
        raise UnitError(f"{what} must be more than 0")
    if amount >= 2**63:
        raise UnitError(f"{what} {value!r} is more bytes than any machine has")
    if plain and amount < 2**20:  # Metaflow's and many a reader's habit: a plain number in megabytes
        shown = value.strip() if isinstance(value, str) else value
        raise UnitError(f"{what} {value!r} would be {shown} bytes: write '{shown}Mi' for mebibytes")
    return int(amount)


def parse_duration(value: object) -> int:
    """Whole seconds from ``600``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"``."""
    if isinstance(value, bool):
        raise UnitError("a duration must be seconds or a string such as '90s', '15m', '2h'")
    if isinstance(value, (int, float)):
        seconds = _finite(value, "duration")
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            seconds = _finite(text, "duration")
        else:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise UnitError(f"bad duration {value!r}: use seconds or a string such as '90s', '15m', '2h'")
            seconds = _finite(sum(float(n) * _DURATION_UNITS[u] for n, u in parts), "duration")
    else:
        raise UnitError("a duration must be seconds or a string such as '90s', '15m', '2h'")
    if seconds <= 0:
        raise UnitError("a duration must be more than 0 seconds")
    if seconds >= 2**31:  # engines keep durations in 32-bit seconds (68 years)
        raise UnitError(f"a duration of {value!r} is longer than any engine can wait")
    return math.ceil(seconds)  # a part of a second still needs that second
