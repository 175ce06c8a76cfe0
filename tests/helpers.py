"""Shared test plumbing: paths, the stepc command, and the ../shared data CI provides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"
SHARED = REPO.parent / "shared"
FLOWS = sorted(GOLDEN.glob("*.py"))  # both dialects


def stepc(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m stepc``) in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "stepc", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def shared_dir(name: str) -> Path:
    """A folder of ../shared; missing data fails under CI instead of skipping."""
    path = SHARED / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the clone")
        pytest.skip(f"{path} is not available outside CI")
    return path
