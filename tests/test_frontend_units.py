"""Resource quantities, durations and cron schedules: user spellings to numbers, or a reason."""

from __future__ import annotations

import pytest

from stepc.cron import cron_error
from stepc.units import UnitError, parse_bytes, parse_cpu, parse_duration


@pytest.mark.parametrize(
    ("value", "cores"), [(2, 2.0), (0.5, 0.5), ("500m", 0.5), ("2", 2.0), (" 1.5 ", 1.5), ("250m", 0.25)]
)
def test_cpu(value: object, cores: float) -> None:
    assert parse_cpu(value) == cores


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("two", "bad cpu quantity"),
        ("2Gi", "bad cpu quantity"),
        (0, "more than 0"),
        (-1, "more than 0"),
        (True, "number of cores"),
        (None, "number of cores"),
        (10**400, "not a finite number"),
    ],
)
def test_bad_cpu(value: object, says: str) -> None:
    with pytest.raises(UnitError, match=says):
        parse_cpu(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512Mi", 512 * 2**20),
        ("4Gi", 4 * 2**30),
        ("1G", 10**9),
        ("1.5Gi", 3 * 2**29),
        ("100M", 10**8),
        (2**30, 2**30),
        ("1Ti", 2**40),
    ],
)
def test_bytes(value: object, size: int) -> None:
    assert parse_bytes(value) == size


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("4GB", "unknown memory unit 'GB' in '4GB'.*did you mean '4Gi'"),
        ("4gi", "unknown memory unit 'gi'.*did you mean '4Gi'"),
        ("lots", "bad memory quantity"),
        (4096, "would be 4096 bytes: write '4096Mi'"),
        ("4096", "would be 4096 bytes"),
        ("0Gi", "more than 0"),
        ("99999999999Ei", "more bytes than any machine"),
        (False, "quantity such as"),
    ],
)
def test_bad_bytes(value: object, says: str) -> None:
    with pytest.raises(UnitError, match=says):
        parse_bytes(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(600, 600), ("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("45", 45), (0.4, 1)],
)
def test_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("10 minutes", "bad duration"),
        ("15M", "bad duration"),
        ("-5m", "bad duration"),
        (0, "more than 0 seconds"),
        (True, "seconds or a string"),
        ("99999999999h", "longer than any engine can wait"),
        (1e300, "longer than any engine can wait"),
    ],
)
def test_bad_duration(value: object, says: str) -> None:
    with pytest.raises(UnitError, match=says):
        parse_duration(value)


@pytest.mark.parametrize(
    "schedule",
    ["0 3 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "0 0 1 JAN,JUL *", "5 4 * * 7", "@daily", " 0 3 * * * "],
)
def test_good_cron(schedule: str) -> None:
    assert cron_error(schedule) is None


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("0 25 * * *", "bad hour field '25'"),
        ("60 * * * *", "bad minute field '60'"),
        ("* * 0 * *", "bad day of month field '0'"),
        ("* * * 13 *", "bad month field '13'"),
        ("* * * * 8", "bad day of week field '8'"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "range 5-1 runs backwards"),
        ("daily", "5 fields"),
        ("* * * * * *", "6 given"),
        ("", "0 given"),
        ("@reboot", "unknown schedule '@reboot': use five fields or one of @yearly"),
    ],
)
def test_bad_cron(schedule: str, says: str) -> None:
    problem = cron_error(schedule)
    assert problem is not None and says in problem
