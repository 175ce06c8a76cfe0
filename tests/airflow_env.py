"""The Airflow venv the Airflow tests run in: apache-airflow 3.3 and stepc, apart from the project's.

Airflow has hundreds of dependencies that must not leak into stepc's own environment, so it
lives in its own venv (``.airflow-venv`` beside ``.venv``, created once and reused; a marker
file records what was installed, so a changed requirement rebuilds it). CI pre-creates it with
``.venv/bin/python -m tests.airflow_env``; the test fixture calls :func:`ensure` too.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("STEPC_AIRFLOW_VENV", REPO / ".airflow-venv"))
# No constraints file is reachable, so pin what resolves to a working set today.
REQUIREMENTS = ("apache-airflow==3.3.*", "apache-airflow-providers-cncf-kubernetes")
MARKER = VENV / ".stepc-ready"


def python() -> Path:
    return VENV / "bin" / "python"


def airflow() -> Path:
    return VENV / "bin" / "airflow"


def _wanted() -> str:
    return "\n".join([*REQUIREMENTS, f"stepc -e {REPO}"]) + "\n"


def ready() -> bool:
    return MARKER.is_file() and MARKER.read_text(encoding="utf-8") == _wanted()


def ensure(quiet: bool = True) -> Path:
    """Create the venv if it is missing or stale; return its python. Safe to call from several
    processes at once (pytest-xdist workers): one builds, the others wait on a lock."""
    if ready():
        return python()
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # The lock lives outside the work tree, so that it never shows up in `git status`.
    with open(Path(tempfile.gettempdir()) / f"stepc-airflow-venv-{os.getuid()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready():
            return python()
        started = time.monotonic()
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python()), "-m", "pip", "install", "--disable-pip-version-check"] + (["-q"] if quiet else [])
        subprocess.run([*pip, *REQUIREMENTS], check=True)
        # stepc itself, without dev extras, so that tasks can run `python -m stepc exec`.
        subprocess.run([*pip, "-e", str(REPO)], check=True)
        MARKER.write_text(_wanted(), encoding="utf-8")
        print(f"airflow venv ready in {VENV} after {time.monotonic() - started:.0f}s", file=sys.stderr)
    return python()


if __name__ == "__main__":
    ensure(quiet="-v" not in sys.argv)
