"""The Airflow venvs the Airflow tests run in, apart from the project's: the newest supported
release (apache-airflow 3.3, every test) and the oldest (3.0, DagBag imports of the golden DAGs).

Airflow has hundreds of dependencies that must not leak into stepc's own environment, so each
release lives in its own venv (``.airflow-venv`` for the newest, ``.airflow-venv-3.0`` for the
oldest, beside ``.venv``; created once and reused; a marker file records what was installed,
so a changed requirement rebuilds it). CI pre-creates both with
``.venv/bin/python -m tests.airflow_env``; the test fixtures call :func:`ensure` too.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Release:
    """One Airflow release line the DAGs must load on, and the venv that holds it."""

    version: str  # "3.3": the line, as pip's ==3.3.* reads it
    venv: Path
    # stepc itself (without dev extras) for the venvs that run tasks (`python -m stepc exec`).
    with_stepc: bool

    @property
    def requirements(self) -> tuple[str, ...]:
        # No constraints file is reachable, so pin what resolves to a working set today.
        return (f"apache-airflow=={self.version}.*", "apache-airflow-providers-cncf-kubernetes")

    @property
    def marker(self) -> Path:
        return self.venv / ".stepc-ready"


NEWEST = Release("3.3", Path(os.environ.get("STEPC_AIRFLOW_VENV", REPO / ".airflow-venv")), with_stepc=True)
OLDEST = Release("3.0", Path(os.environ.get("STEPC_AIRFLOW_OLD_VENV", REPO / ".airflow-venv-3.0")), with_stepc=False)
RELEASES = (NEWEST, OLDEST)
# What the rest of the tests read: the newest release's venv.
VENV = NEWEST.venv
REQUIREMENTS = NEWEST.requirements
MARKER = NEWEST.marker


def python(release: Release = NEWEST) -> Path:
    return release.venv / "bin" / "python"


def airflow(release: Release = NEWEST) -> Path:
    return release.venv / "bin" / "airflow"


def _wanted(release: Release) -> str:
    return "\n".join([*release.requirements, *([f"stepc -e {REPO}"] if release.with_stepc else [])]) + "\n"


def ready(release: Release = NEWEST) -> bool:
    return release.marker.is_file() and release.marker.read_text(encoding="utf-8") == _wanted(release)


def ensure(quiet: bool = True, release: Release = NEWEST) -> Path:
    """Create the release's venv if it is missing or stale; return its python. Safe to call
    from several processes at once (pytest-xdist workers): one builds, the others wait on a lock."""
    if ready(release):
        return python(release)
    release.venv.parent.mkdir(parents=True, exist_ok=True)
    # The lock lives outside the work tree, so that it never shows up in `git status`.
    lock_name = f"stepc-airflow-venv-{release.version}-{os.getuid()}.lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready(release):
            return python(release)
        started = time.monotonic()
        if release.venv.exists():
            shutil.rmtree(release.venv)
        subprocess.run([sys.executable, "-m", "venv", str(release.venv)], check=True)
        pip = [str(python(release)), "-m", "pip", "install", "--disable-pip-version-check"] + (["-q"] if quiet else [])
        subprocess.run([*pip, *release.requirements], check=True)
        if release.with_stepc:
            subprocess.run([*pip, "-e", str(REPO)], check=True)
        release.marker.write_text(_wanted(release), encoding="utf-8")
        took = time.monotonic() - started
        print(f"airflow {release.version} venv ready in {release.venv} after {took:.0f}s", file=sys.stderr)
    return python(release)


if __name__ == "__main__":
    for each in RELEASES:
        ensure(quiet="-v" not in sys.argv, release=each)
