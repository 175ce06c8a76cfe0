"""Resource quantities, durations and cron schedules: user spellings to numbers, or a reason."""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stepc.cron import cron_error
from stepc.frontend import fingerprint
from stepc.frontend.fingerprint import FunctionNode, code_hash
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


# -- code hashes ----------------------------------------------------------------------------------

HASHED = 'def a(x: int = 1, *, y=None):\n    """Doc."""\n    return [x + 1 for _ in range(3)], {"y": y}\n'


def test_code_hash_is_pinned() -> None:
    """The hash is part of every cache key and of the IR: a change must be deliberate."""
    assert code_hash(function(HASHED)) == "a6d1a13451ba61dc"
    assert code_hash(function("async def a(x):\n    return await x\n")) == "892ee48003e45430"


def interpreter(version: str) -> str | None:
    """A working ``python<version>`` on PATH or in pyenv's folder (its shims fail when unselected)."""
    found = [shutil.which(f"python{version}"), *sorted(glob.glob(str(PYENV / f"{version}.*" / "bin" / "python")))]
    for candidate in filter(None, found):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_code_hash_is_the_same_on_every_python(version: str) -> None:
    python = interpreter(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed here")
    script = (
        "import ast, runpy, sys\n"
        f"hash = runpy.run_path({str(Path(fingerprint.__file__))!r})['code_hash']\n"
        f"print(hash(ast.parse({HASHED!r}).body[0]))\n"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "a6d1a13451ba61dc", result.stderr


def function(source: str) -> FunctionNode:
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    return node
