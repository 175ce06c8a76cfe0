"""`stepc submit` / `stepc status` against a real Airflow 3, started by the module.

One Airflow (api-server, scheduler, dag-processor; SQLite; the simple auth manager with a
generated password) serves the whole module; every process is stopped by its PID in a
finalizer, whatever the tests do. The flows are submitted at once in the background, each next
to a `stepc run` of the same flow and parameters, and every test waits for the pair it checks:
the runs must end the same way and leave the same artifacts in their stores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from stepc.runtime.store import Store
from tests import airflow_env
from tests.helpers import GOLDEN, REPO
from tests.test_submit_server import USER, AirflowServer, free_port

FLOWS = REPO / "tests" / "flows"
IRIS = {"n_rows": "120", "learning_rates": "[0.5, 0.05]"}
FEATURES = {"n_shards": "2", "threshold": "5000", "regions": "eu,us,ap"}
TYPED = {
    "count": "3",
    "ratio": "2",
    "flag": "yes",
    "sizes": "4,5",
    "options": '{"a": [1, "b"]}',
    "name": "it's {{ params.x }} $(touch /tmp/stepc-submit-pwned)",
}

Result = subprocess.CompletedProcess[str]


def stepc(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240) -> Result:
    """The real CLI in a subprocess (stdout is a pipe: the plain view)."""
    return subprocess.run(
        [sys.executable, "-m", "stepc", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def params(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("-p", f"{name}={value}")]


def outputs(root: Path, run_id: str | None = None) -> dict[tuple[str, tuple[int, ...] | None, str], Any]:
    """Every committed artifact of one run in a store, by (step, item, output name)."""
    store = Store(root)
    if run_id is None:
        (run_dir,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    else:
        run_dir = store.run_dir(run_id)
    run_id = run_id or unquote(run_dir.name)
    found: dict[tuple[str, tuple[int, ...] | None, str], Any] = {}
    for step_dir in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        step = unquote(step_dir.name)
        for result in store.committed(run_id, step):
            if result.status == "succeeded":
                for meta in result.outputs:
                    found[(step, result.item, meta.name)] = store.read_artifact(meta)
    return found


class Project:
    """A stepc project whose `[tool.stepc.airflow]` points at the module's Airflow."""

    def __init__(self, root: Path, server: AirflowServer, **extra: str) -> None:
        self.root = root
        self.server = server
        self.store = root / "airflow-store"
        root.mkdir(parents=True, exist_ok=True)
        settings = {
            "dags_folder": str(server.dags),
            "url": server.url,
            "store": str(self.store),
            "project_root": str(root),
            "python": str(airflow_env.python()),
            **extra,
        }
        lines = ["[tool.stepc.airflow]", *(f"{key} = {json.dumps(value)}" for key, value in settings.items())]
        (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEPC_AIRFLOW_")}
        env.update({"STEPC_AIRFLOW_USER": USER, "STEPC_AIRFLOW_PASSWORD": self.server.password, **extra})
        return env

    def add(self, source: Path) -> str:
        (self.root / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        return source.name

    def submit(self, flow: str, values: dict[str, str], *more: str) -> Result:
        argv = ["submit", flow, "--target", "airflow", *params(values), "--poll-interval", "0.5", *more]
        return stepc(*argv, "--timeout", "150", "--parse-timeout", "60", cwd=self.root, env=self.env())

    def status(self, run_id: str, *more: str) -> Result:
        argv = ["status", "--target", "airflow", run_id, "--poll-interval", "0.5", "--timeout", "150", *more]
        return stepc(*argv, cwd=self.root, env=self.env())

    def local(self, flow: str, values: dict[str, str]) -> tuple[Result, Path]:
        store = self.root / f"local-{flow.removesuffix('.py')}"
        return stepc("run", flow, "-q", "--store", str(store), *params(values), cwd=self.root), store


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> AirflowServer:
    airflow_env.ensure()
    server = AirflowServer(tmp_path_factory.mktemp("airflow-home"))
    request.addfinalizer(server.stop)  # before start: a half-started server is stopped too
    server.start()
    return server


@pytest.fixture(scope="module")
def project(airflow: AirflowServer, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(tmp_path_factory.mktemp("project"), airflow)


class Runs:
    """Submits and local runs started together; each test takes the results it checks."""

    def __init__(self, journal: dict[str, str]) -> None:
        self.journal = journal  # engine -> the file the retry flow's steps append to
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.futures: dict[str, Future[Any]] = {}
        self.results: dict[str, Any] = {}

    def start(self, key: str, work: Any, *args: Any) -> None:
        self.futures[key] = self.pool.submit(work, *args)

    def __getitem__(self, key: str) -> Any:
        return self.results[key] if key in self.results else self.futures[key].result()


@pytest.fixture(scope="module")
def runs(project: Project) -> Iterator[Runs]:
    """Three flows submitted with --no-wait one after the other and followed with `stepc status
    --wait`, and iris submitted and followed by `stepc submit` itself, while `stepc run` runs each.
    (Triggers go one at a time: Airflow's API server on SQLite can stall on concurrent ones.)"""
    Path("/tmp/stepc-submit-pwned").unlink(missing_ok=True)
    journal = {engine: str(project.root / f"{engine}.journal") for engine in ("airflow", "local")}
    started = Runs(journal)
    flows = {
        "typed": (project.add(FLOWS / "submit" / "typed.py"), TYPED),
        "retry": (project.add(FLOWS / "airflow" / "retry_rollback.py"), {"fail": "true"}),
        "features": (project.add(GOLDEN / "features.py"), FEATURES),
        "iris": (project.add(GOLDEN / "iris_training.py"), IRIS),
    }
    for key, (flow, values) in flows.items():
        local = dict(values, journal=journal["local"]) if key == "retry" else values
        started.start(f"local:{key}", project.local, flow, local)
    for key, (flow, values) in flows.items():
        submitted = dict(values, journal=journal["airflow"]) if key == "retry" else values
        if key == "iris":
            started.start("submit:iris", project.submit, flow, submitted)
            continue
        result = project.submit(flow, submitted, "--no-wait")
        started.results[f"submit:{key}"] = result
        if result.returncode == 0:
            started.start(f"followed:{key}", project.status, result.stdout.strip(), "--wait")
    yield started
    started.pool.shutdown(wait=True)


def explain(result: Result, server: AirflowServer) -> str:
    """What a failed assertion shows: the command's output, and Airflow's logs when a process died."""
    dead = server.dead()
    text = result.stdout[-4000:] + result.stderr[-4000:]
    return text + (f"\nairflow processes exited: {dead}\n{server.logs()}" if dead else "")


def run_id_of(result: Result) -> str:
    line = next(x for x in result.stdout.splitlines() if x.startswith("run ") and " of " in x)
    return line.split()[1]


def one_line_error(result: Result) -> str:
    """The whole of stderr, which must be exactly one `error:` line (no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


# --- runs that end as expected, with the artifacts of `stepc run` --------------------------------


def test_foreach_flow_succeeds_with_the_artifacts_of_stepc_run(runs: Runs, project: Project) -> None:
    submitted: Result = runs["submit:iris"]
    assert submitted.returncode == 0, explain(submitted, project.server)
    assert "succeeded" in submitted.stdout and "train[1]" in submitted.stdout
    assert "waiting for Airflow to parse it" in submitted.stderr
    local, local_store = runs["local:iris"]
    assert local.returncode == 0, local.stderr
    found = outputs(project.store, run_id_of(submitted))
    assert {k for k in found if k[0] == "train"} == {("train", (0,), "model"), ("train", (1,), "model")}
    assert found == outputs(local_store)


def test_parameters_are_typed_as_stepc_run_types_them(runs: Runs, project: Project) -> None:
    assert runs["submit:typed"].returncode == 0, explain(runs["submit:typed"], project.server)
    submitted: Result = runs["followed:typed"]
    assert submitted.returncode == 0, explain(submitted, project.server)
    local, local_store = runs["local:typed"]
    assert local.returncode == 0, local.stderr
    found = outputs(project.store, run_id_of(submitted))
    assert found == outputs(local_store)
    values = found[("echo", None, "values")]
    assert values["ratio"] == ["float", 2.0] and values["flag"] == ["bool", True]
    assert values["sizes"] == ["list", [4, 5]] and values["options"] == ["dict", {"a": [1, "b"]}]
    assert values["count"] == ["int", 3] and values["name"] == ["str", TYPED["name"]]
    assert not Path("/tmp/stepc-submit-pwned").exists()


def test_failing_flow_fails_and_runs_its_rollback(runs: Runs, project: Project) -> None:
    assert runs["submit:retry"].returncode == 0, explain(runs["submit:retry"], project.server)
    submitted: Result = runs["followed:retry"]
    assert submitted.returncode == 1, explain(submitted, project.server)
    assert "of retry-rollback failed" in submitted.stdout
    failed = next(x for x in submitted.stdout.splitlines() if x.startswith("failed: "))
    assert "check" in failed.split(": ", 1)[1].split(", ")
    local, local_store = runs["local:retry"]
    assert local.returncode == 1, local.stderr
    lines = {engine: Path(path).read_text(encoding="utf-8").splitlines() for engine, path in runs.journal.items()}
    assert lines["airflow"] == ["prepare", "flaky", "flaky", "undo prepare"] == lines["local"]
    rollback = next(x for x in submitted.stdout.splitlines() if x.split()[:1] == ["stepc_rollback"])
    assert "success" in rollback
    assert outputs(project.store, run_id_of(submitted)) == outputs(local_store)


def test_no_wait_prints_the_run_id_and_status_follows_it(runs: Runs, project: Project) -> None:
    submitted: Result = runs["submit:features"]
    assert submitted.returncode == 0, explain(submitted, project.server)
    run_id = submitted.stdout.strip()
    assert run_id and "\n" not in run_id and " " not in run_id
    followed: Result = runs["followed:features"]  # `stepc status RUN --wait`, the DAG found by the run id
    assert followed.returncode == 0, explain(followed, project.server)
    assert f"run {run_id} of feature-tour succeeded" in followed.stdout
    shown = stepc("status", "--target", "airflow", run_id, "--dag", "feature-tour", cwd=project.root, env=project.env())
    assert shown.returncode == 0 and "by_region[2]" in shown.stdout and "skipped" in shown.stdout
    local, local_store = runs["local:features"]
    assert local.returncode == 0, local.stderr
    assert outputs(project.store, run_id) == outputs(local_store)


# --- what goes wrong is said in one line or as a diagnostic --------------------------------------


def test_import_error_is_a_diagnostic_naming_the_file(airflow: AirflowServer, tmp_path: Path) -> None:
    # A start date that passes stepc's check but not datetime(): Airflow's import fails.
    broken = Project(tmp_path / "broken", airflow, start_date="2024-02-30")
    flow = broken.add(FLOWS / "run" / "required.py")
    result = broken.submit(flow, {"name": "x"})
    assert result.returncode == 1, result.stdout + result.stderr
    dag_file = airflow.dags / "required_dag.py"
    assert f"{dag_file}:" in result.stderr and "error[T202]" in result.stderr
    assert "day is out of range for month" in result.stderr and "start_date=datetime(2024, 2, 30" in result.stderr


def test_a_resubmit_waits_for_its_own_version_of_the_dag(airflow: AirflowServer, tmp_path: Path) -> None:
    """After an import error, the fixed file is deployed (the old error does not count); a
    changed flow then runs as changed, never as the DAG Airflow had before."""
    broken = Project(tmp_path / "p", airflow, start_date="2024-02-30")
    flow = broken.add(FLOWS / "run" / "required.py")
    assert broken.submit(flow, {"name": "x"}).returncode == 1
    fixed = Project(tmp_path / "p", airflow)  # the same project, its settings repaired
    first = fixed.submit(flow, {"name": "x"})
    assert first.returncode == 0, explain(first, airflow)
    assert outputs(fixed.store, run_id_of(first)) == {("use", None, "out"): "xx"}
    # A new step: the DAG changes, so the old DAG must not be the one that runs.
    source = fixed.root / flow
    shout = '@step(inputs=["out"], outputs=["loud"])\ndef shout(out):\n    return out.upper()\n\n\n'
    text = source.read_text(encoding="utf-8").replace('pipeline("required", steps=[use])', "")
    source.write_text(text + shout + 'pipeline("required", steps=[use, shout])\n', encoding="utf-8")
    second = fixed.submit(flow, {"name": "y", "times": "3"})
    assert second.returncode == 0, explain(second, airflow)
    assert outputs(fixed.store, run_id_of(second)) == {("use", None, "out"): "yyy", ("shout", None, "loud"): "YYY"}


def test_bad_credentials_are_one_line_and_never_show_the_secret(project: Project) -> None:
    flow = project.add(FLOWS / "run" / "required.py")
    secret = "not-the-password-" + str(time.time_ns())
    result = stepc("submit", flow, "-t", "airflow", "-p", "name=x", cwd=project.root,
                   env=project.env(STEPC_AIRFLOW_PASSWORD=secret))  # fmt: skip
    assert result.returncode == 1
    assert "rejected the login of user 'admin'" in one_line_error(result) and secret not in result.stderr
    token = "eyJ.forged." + str(time.time_ns())
    result = stepc("status", "-t", "airflow", "some-run", "--url", project.server.url, "--token", token,
                   cwd=project.root, env=project.env())  # fmt: skip
    assert result.returncode == 1 and token not in result.stderr
    assert "(403)" in one_line_error(result) or "(401)" in result.stderr
    result = stepc("submit", flow, "-t", "airflow", "-p", "name=x", cwd=project.root,
                   env={k: v for k, v in project.env().items() if not k.startswith("STEPC_AIRFLOW_")})  # fmt: skip
    assert result.returncode == 2 and "needs credentials" in one_line_error(result)


def test_unreachable_airflow_is_one_line(project: Project) -> None:
    flow = project.add(FLOWS / "run" / "required.py")
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = stepc("submit", flow, "-t", "airflow", "-p", "name=x", "--url", url, cwd=project.root, env=project.env())
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert one_line_error(result) == f"error: cannot reach Airflow at {url} (connection refused) to log in"
    result = stepc("status", "-t", "airflow", "r", "--url", url, cwd=project.root, env=project.env())
    assert result.returncode == 1 and "connection refused" in one_line_error(result)


def test_bad_parameters_and_targets_fail_before_airflow_is_asked(project: Project) -> None:
    flow = project.add(FLOWS / "run" / "required.py")
    dead = ["--url", f"http://127.0.0.1:{free_port()}"]  # nothing is contacted, so nothing fails there
    result = stepc("submit", flow, "-t", "airflow", "-p", "times=lots", "-p", "name=x", *dead,
                   cwd=project.root, env=project.env())  # fmt: skip
    assert result.returncode == 2 and "parameter 'times' expects an int" in one_line_error(result)
    result = stepc("submit", flow, "-t", "airflow", *dead, cwd=project.root, env=project.env())
    assert result.returncode == 2 and "missing required parameter 'name'" in one_line_error(result)
    result = stepc("submit", flow, "-t", "argo", "-p", "name=x", cwd=project.root, env=project.env())
    assert result.returncode == 2 and "--target airflow" in result.stderr


def test_unknown_run_is_one_line(project: Project) -> None:
    result = stepc("status", "-t", "airflow", "no-such-run", cwd=project.root, env=project.env())
    assert result.returncode == 1 and "has no run 'no-such-run'" in one_line_error(result)


def test_a_terminal_gets_the_live_view(runs: Runs, project: Project) -> None:
    """On a terminal the view is rich's (colours, a live table); in a pipe it is plain lines."""
    import pty

    run_id = run_id_of(runs["submit:iris"])
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with its stdout on the terminal
        os.chdir(project.root)
        argv = [sys.executable, "-m", "stepc", "status", "-t", "airflow", run_id, "--wait", "--poll-interval", "0.2"]
        os.execve(sys.executable, argv, {**project.env(), "TERM": "xterm-256color", "COLUMNS": "120"})
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline + 10:
        time.sleep(0.1)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # still running after the deadline: stop it, and fail below
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\x1b[" in text and "train[1]" in text and "succeeded" in text
