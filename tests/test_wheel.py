"""A wheel built from the repository works in a clean virtual environment.

Built without build isolation from the committed files only, installed with its dependencies
into a fresh venv, then used from outside the checkout so that nothing leaks in from here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import GOLDEN, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        origin = REPO / name
        if origin.is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = (tmp / "dist").glob("stepc-*.whl")
    return built


def test_wheel_keeps_backends_and_templates_inside_the_stepc_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert "backends" not in tops and "templates" not in tops
    assert "stepc/backends/__init__.py" in names
    assert "stepc/templates/__init__.py" in names
    assert "stepc/ir_schema.json" in names
    for init in (REPO / "stepc").rglob("__init__.py"):
        assert init.relative_to(REPO).as_posix() in names, f"{init.parent.name} is missing from the wheel"


def test_wheel_installs_and_compiles_in_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = Path(sysconfig.get_path("scripts", vars={"base": str(venv)}))
    pip = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True
    )
    assert pip.returncode == 0, pip.stderr
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(GOLDEN / "iris_training.py", work / "flow.py")

    version = subprocess.run([str(bindir / "stepc"), "--version"], cwd=work, capture_output=True, text=True)
    assert version.returncode == 0 and "stepc" in version.stdout
    ir_out = subprocess.run(
        [str(bindir / "python"), "-m", "stepc", "ir", "flow.py"], cwd=work, capture_output=True, text=True
    )
    assert ir_out.returncode == 0, ir_out.stderr
    assert '"name": "iris-training"' in ir_out.stdout
    probe = subprocess.run(
        [str(bindir / "python"), "-c", "import stepc, stepc.backends, stepc.templates; print(stepc.__file__)"],
        cwd=work, capture_output=True, text=True,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert str(venv) in probe.stdout  # the installed copy, not the checkout
    check = subprocess.run([str(bindir / "stepc"), "check", "flow.py"], cwd=work, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
