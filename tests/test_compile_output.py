"""What `stepc compile -o DIR` leaves on disk: two pipelines whose output files would be one
file are T104 and nothing is written; the files get the mode the umask gives."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import stepc

FLOW = """from stepc import pipeline, step


@step(outputs=["x"])
def one():
    return 1


pipeline({name!r}, steps=[one])
"""


def flow(tmp_path: Path, file: str, name: str) -> Path:
    path = tmp_path / file
    path.write_text(FLOW.format(name=name), encoding="utf-8")
    return path


@pytest.mark.parametrize(("first", "second", "clash"), [("a/b", "a_b", "a_b"), ("Train", "train", "train")])
def test_pipelines_writing_one_file_are_an_error(tmp_path: Path, first: str, second: str, clash: str) -> None:
    flow(tmp_path, "one.py", first)
    flow(tmp_path, "two.py", second)
    out = tmp_path / "out"
    result = stepc("compile", "one.py", "two.py", "--target", "all", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error[T104]" in line]
    assert len(lines) == 4, result.stderr  # one per target's file
    at = FLOW.splitlines().index("pipeline({name!r}, steps=[one])") + 1
    for line in lines:  # at the second pipeline's name
        assert line.startswith(f"two.py:{at}:{len('pipeline(') + 1}: error[T104]: "), line
        assert f"'{first}' (one.py)" in line and f"'{second}' (two.py)" in line, line
    assert any(f"{clash}.argo.yaml" in line for line in lines), lines
    assert not out.exists()  # nothing half-written: not even the files that do not collide


def test_implicit_pipelines_of_two_modules_of_one_name_collide(tmp_path: Path) -> None:
    """Without a pipeline() call the pipeline is named after the module: there is no call to
    point at, so the diagnostic is at the second file's start."""
    (tmp_path / "sub").mkdir()
    for path in (tmp_path / "train.py", tmp_path / "sub" / "train.py"):
        path.write_text("from stepc import step\n\n\n@step\ndef one():\n    return 1\n", encoding="utf-8")
    result = stepc("compile", "train.py", "sub/train.py", "--target", "gha", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(
        "sub/train.py:1:1: error[T104]: pipelines 'train' (train.py) and 'train' (sub/train.py) would both write "
        ".github/workflows/train.yml"
    ), result.stderr
    assert not (tmp_path / "out").exists()


def test_a_collision_is_found_by_check_too(tmp_path: Path) -> None:
    flow(tmp_path, "one.py", "a/b")
    flow(tmp_path, "two.py", "a_b")
    result = stepc("compile", "one.py", "two.py", "--target", "argo", "-o", "out", "--check", cwd=tmp_path)
    assert result.returncode == 1 and "error[T104]" in result.stderr, result.stderr


def test_one_pipeline_named_twice_is_written_once(tmp_path: Path) -> None:
    flow(tmp_path, "one.py", "a/b")
    result = stepc("compile", "one.py", str(tmp_path / "one.py"), "--target", "argo", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("wrote ") == 1, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a_b.argo.yaml"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def file_modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("umask_022")
def test_files_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    flow(tmp_path, "one.py", "modes")
    out = tmp_path / "out"
    result = stepc("compile", "one.py", "--target", "all", "-o", str(out), cwd=tmp_path)  # inherits the umask
    assert result.returncode == 0, result.stderr
    modes = file_modes(out)
    assert len(modes) == 4 and set(modes.values()) == {0o644}, modes
    # a stricter umask is honoured as well, when a file is replaced too
    strict = subprocess.run(
        ["sh", "-c", 'umask 077 && exec "$0" -m stepc compile one.py --target all -o out', sys.executable],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert strict.returncode == 0, strict.stderr
    assert set(file_modes(out).values()) == {0o600}, file_modes(out)
    assert not list(out.rglob(".*.tmp"))
