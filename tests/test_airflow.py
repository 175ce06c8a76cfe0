"""Airflow output, for real: golden DAGs, Airflow's own DagBag import, `airflow dags test` runs
whose store must match `stepc run`'s, stepc's Airflow lint, and hostile strings.

Airflow 3.3 lives in its own venv (tests/airflow_env.py, created on first use: about a minute,
once); every Airflow command runs there in a subprocess, with a throw-away AIRFLOW_HOME.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from stepc.backends.airflow_lint import lint_dag

from stepc.runtime.store import Store
from tests import airflow_env
from tests.helpers import FLOWS, GOLDEN, REPO, stepc
from tests.injection import HOSTILE

COMPILED = GOLDEN / "compiled"

# Run inside the Airflow venv: import DAG files with DagBag and describe what Airflow built,
# rendering every templated env value the way a worker would.
DAGBAG_SCRIPT = r"""
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0
    from airflow.models.dagbag import DagBag
out = {}
for path in sys.argv[1:]:
    bag = DagBag(dag_folder=path)
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            info = {"type": type(t).__name__, "trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule),
                    "retries": t.retries, "teardown": t.is_teardown, "upstream": sorted(t.upstream_task_ids)}
            kwargs = getattr(t, "partial_kwargs", None)
            for key in ("priority_weight", "name", "get_logs", "log_events_on_failure", "retry_exponential_backoff"):
                value = (kwargs or {}).get(key, getattr(t, key, None))
                if value is not None:
                    info[key] = value
            command = getattr(t, "bash_command", None) or (kwargs or {}).get("bash_command")
            env = getattr(t, "env", None) if kwargs is None else None
            if command is not None:
                info["command"] = command
            bound = getattr(t, "max_active_tis_per_dagrun", None) or (kwargs or {}).get("max_active_tis_per_dagrun")
            if bound is not None:
                info["max_active_tis_per_dagrun"] = bound
            context = {"run_id": "RUN-ID", "params": {"x": "{{ 7 * 7 }}"}}
            if isinstance(env, dict):
                info["env"] = {k: t.render_template(v, context) for k, v in env.items()}
            elif kwargs is None and getattr(t, "env_vars", None):  # a pod: render as a worker would
                t.render_template_fields(context)
                info["env"] = {e.name: e.value for e in t.env_vars}
                info["command"] = t.arguments[0]
            tasks[t.task_id] = info
        dags[dag_id] = {
            "tasks": tasks,
            "params": {k: dag.params.get_param(k).value for k in dag.params},
            "tags": sorted(dag.tags),
            "max_active_tasks": dag.max_active_tasks,
            "doc_md": dag.doc_md,
            "max_active_runs": dag.max_active_runs,
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        }
    out[path] = {"errors": {k: str(v)[-3000:] for k, v in bag.import_errors.items()}, "dags": dags}
out["stepc_imported"] = sorted(m for m in sys.modules if m == "stepc" or m.startswith("stepc."))
print("STEPC-DAGBAG " + json.dumps(out, default=repr))
"""


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    return airflow_env.ensure()


@pytest.fixture(scope="session")
def oldest_airflow_python() -> Path:
    """The oldest Airflow the DAGs support (3.0): DagBag imports only, no tasks run there."""
    return airflow_env.ensure(release=airflow_env.OLDEST)


def airflow_environ(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "PATH": f"{airflow_env.VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }
    env.pop("VIRTUAL_ENV", None)
    return env


def dagbag(python: Path, tmp_path: Path, *paths: Path) -> dict[str, Any]:
    """What Airflow's DagBag makes of the given DAG files (in the Airflow venv)."""
    home = tmp_path / "airflow-home"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(python), "-c", DAGBAG_SCRIPT, *map(str, paths)],
        capture_output=True, text=True, env=airflow_environ(home), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("STEPC-DAGBAG "))
    loaded: dict[str, Any] = json.loads(line.split(" ", 1)[1])
    return loaded


def compile_airflow(flow: Path | str, cwd: Path | None = None, pipeline: str | None = None) -> str:
    chosen = ("--pipeline", pipeline) if pipeline else ()
    result = stepc("compile", str(flow), "--target", "airflow", "-o", "-", *chosen, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- hostile strings --------------------------------------------------------------------------

# Jinja that Airflow would render, and a value it would load as a template file (".md").
JINJA, TEMPLATE_FILE = "{% raw %}}}{{ run_id }}", "/etc/hostname.md"
assert {JINJA, TEMPLATE_FILE} <= set(HOSTILE)


def hostile_flow(path: Path) -> None:
    """Hostile text in names, defaults, descriptions, tags, conditions and env values (each step
    returns its parameter and its env value), long and colliding names, and a foreach over a
    list of hostile items whose env reaches mapped tasks."""
    lines = ["import os", "", "from stepc import pipeline, step", ""]
    for index, text in enumerate(HOSTILE):
        name = (
            ("s" + "_" * (index % 3) + "x" * 75) if index < 3 else (f"step-{index}" if index % 2 else f"step.{index}")
        )
        lines += [
            f"@step(name={name!r}, description={text!r}, tags={{'k{index}': {text!r}, {text!r}: ''}},",
            f"      env={{'V{index}': {text!r}}}, when={f'p{index} != {text!r}'!r}, outputs=['o{index}'])",
            f"def f{index}(p{index}: str = {text!r}):",
            f"    return [p{index}, os.environ['V{index}']]",
            "",
        ]
    lines += [
        f"@step(foreach='items', env={{'VE': {JINJA!r}}}, outputs=['oe'], description={HOSTILE[1]!r})",
        f"def each(items: list = {HOSTILE!r}):",
        "    return [items, os.environ['VE']]",
        "",
    ]
    steps = ", ".join([*(f"f{i}" for i in range(len(HOSTILE))), "each"])
    lines.append(f"pipeline({HOSTILE[0] + HOSTILE[1]!r}, steps=[{steps}], description={TEMPLATE_FILE!r})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- golden files, DagBag, lint -----------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS, ids=lambda p: p.stem)
def test_golden_dags_are_current(flow: Path) -> None:
    result = stepc("compile", f"golden/{flow.name}", "--target", "airflow", "-o", "golden/compiled", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_golden_dags_import_in_airflow_without_stepc(
    airflow_python: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if any("runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("runs")  # start the slow fidelity runs now, in the background
    paths = sorted(COMPILED.glob("*_dag.py"))
    assert len(paths) == len(FLOWS)
    loaded = dagbag(airflow_python, tmp_path, *paths)
    assert loaded.pop("stepc_imported") == []  # parsing needs Airflow only
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# Generated by stepc ")
        assert lint_dag(text, {"airflow"}) == []
        report = loaded[str(path)]
        assert report["errors"] == {}, report["errors"]
        assert len(report["dags"]) == 1
        imported = {n.names[0].name.split(".")[0] for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Import)}
        imported |= {
            n.module.split(".")[0] for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ImportFrom) and n.module
        }
        assert "stepc" not in imported


def test_mapping_of_features(airflow_python: Path, tmp_path: Path) -> None:
    path = COMPILED / "feature-tour_dag.py"
    (dag,) = dagbag(airflow_python, tmp_path, path)[str(path)]["dags"].values()
    tasks = dag["tasks"]
    # foreach: a mapped task fed by an items task that reads the producer's control line
    assert tasks["count"]["type"] == "MappedOperator" and "items_count" in tasks["count"]["upstream"]
    assert tasks["items_count"]["upstream"] == ["plan_shards"]
    # a chained map counts the same source's items; a list parameter gives its own items task
    assert tasks["items_double"]["upstream"] == ["plan_shards"]
    assert tasks["items_by_region"]["upstream"] == []
    # conditions: a short-circuit per distinct condition; every step task tolerates skips
    assert tasks["when_report"]["type"] == "_ShortCircuitDecoratedOperator"
    assert "when_report" in tasks["report"]["upstream"]
    assert {t["trigger_rule"] for n, t in tasks.items() if n in ("plan_shards", "report", "notify")} == {"none_failed"}
    # rollback: a teardown guard after every step task, then the rollback itself
    assert tasks["stepc_failed"]["teardown"] and tasks["stepc_rollback"]["upstream"] == ["stepc_failed"]
    assert {"plan_shards", "count", "notify"} <= set(tasks["stepc_failed"]["upstream"])
    assert "--rollback" in tasks["stepc_rollback"]["command"]
    # retries (count: 3 from its own setting; the pipeline's 1 elsewhere)
    assert tasks["count"]["retries"] == 3 and tasks["notify"]["retries"] == 1
    # max_parallel: the fan-out's (count's and its chained map double's) and the run's
    assert tasks["count"]["max_active_tis_per_dagrun"] == tasks["double"]["max_active_tis_per_dagrun"] == 2
    assert tasks["by_region"]["max_active_tis_per_dagrun"] == 100  # the default bound
    assert "max_active_tis_per_dagrun" not in tasks["notify"] and dag["max_active_tasks"] == 4
    # typed params
    assert dag["params"]["regions"] == ["eu", "us"] and dag["params"]["scale"] == 1.5
    assert {"ingest", "daily", "team:ml-platform", "stepc"} <= set(dag["tags"])
    text = path.read_text(encoding="utf-8")
    assert "retry_exponential_backoff=_backoff(2.0)" in text and "execution_timeout=timedelta(seconds=300)" in text
    assert tasks["count"]["retry_exponential_backoff"] == 2.0  # Airflow 3.2+ takes the multiplier
    # one run at a time by default ([tool.stepc] concurrency = "forbid")
    assert dag["max_active_runs"] == 1 and dag["dagrun_timeout"] is None


def test_golden_dags_load_on_the_oldest_supported_airflow(oldest_airflow_python: Path, tmp_path: Path) -> None:
    """Airflow 3.0 (task SDK 1.0): no `airflow.sdk.conf`, `literal` only from its module, and
    the backoff a flag that doubles; every golden DAG loads there as it does on 3.3."""
    paths = sorted(COMPILED.glob("*_dag.py"))
    loaded = dagbag(oldest_airflow_python, tmp_path, *paths)
    for path in paths:
        report = loaded[str(path)]
        assert report["errors"] == {}, report["errors"]
        assert len(report["dags"]) == 1
    (tour,) = loaded[str(COMPILED / "feature-tour_dag.py")]["dags"].values()
    assert tour["tasks"]["count"]["retry_exponential_backoff"] is True  # 2.0 is what 3.0's flag does
    assert tour["tasks"]["count"]["type"] == "MappedOperator" and tour["max_active_runs"] == 1
    # Kubernetes mode too (the provider's pod operator, the pod names and log options)
    (tmp_path / "pyproject.toml").write_text('[tool.stepc.airflow]\noperator = "kubernetes"\n', encoding="utf-8")
    shutil.copy(GOLDEN / "features.py", tmp_path / "features.py")
    dag_file = tmp_path / "pods_dag.py"
    dag_file.write_text(compile_airflow(tmp_path / "features.py", cwd=tmp_path), encoding="utf-8")
    report = dagbag(oldest_airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert report["errors"] == {}, report["errors"]
    (pods,) = report["dags"].values()
    assert pods["tasks"]["plan_shards"]["type"] == "KubernetesPodOperator"
    assert pods["tasks"]["plan_shards"]["name"] == "plan-shards"


def test_a_backoff_that_3_0_cannot_take_fails_there_with_a_clear_message(
    airflow_python: Path, oldest_airflow_python: Path, tmp_path: Path
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from stepc import step\n\n@step(retry={'times': 2, 'delay': 1, 'backoff': 1.5})\ndef a():\n    pass\n",
        encoding="utf-8",
    )
    dag_file = tmp_path / "flow_dag.py"
    dag_file.write_text(compile_airflow(flow, cwd=tmp_path), encoding="utf-8")
    newest = dagbag(airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert newest["errors"] == {}
    (dag,) = newest["dags"].values()
    assert dag["tasks"]["a"]["retry_exponential_backoff"] == 1.5
    (error,) = dagbag(oldest_airflow_python, tmp_path, dag_file)[str(dag_file)]["errors"].values()
    assert "a retry backoff factor of 1.5 needs Airflow 3.2 or newer" in error


def test_generated_dags_are_clean_under_ruff_air_and_pyflakes(tmp_path: Path) -> None:
    """Every golden DAG, and the Kubernetes-mode ones, pass ruff's Airflow (AIR) and pyflakes
    (F) rules: AIR001 (a task's variable named after its task id), unused names, and so on."""
    (tmp_path / "pyproject.toml").write_text('[tool.stepc.airflow]\noperator = "kubernetes"\n', encoding="utf-8")
    pods = tmp_path / "pods"
    for flow in FLOWS:
        shutil.copy(flow, tmp_path / flow.name)
        result = stepc("compile", flow.name, "--target", "airflow", "-o", str(pods), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    paths = [*sorted(COMPILED.glob("*_dag.py")), *sorted(pods.glob("*_dag.py"))]
    assert len(paths) == 2 * len(FLOWS)
    ruff = [str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", "--isolated", "--select", "AIR,F"]
    result = subprocess.run(
        [*ruff, "--output-format", "concise", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_run_settings_reach_the_dag(airflow_python: Path, tmp_path: Path) -> None:
    """pipeline(timeout=) is the DAG's dagrun_timeout; [tool.stepc] concurrency = "allow" lifts
    max_active_runs; a step's weight is its task's priority_weight."""
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from stepc import pipeline, step\n\n@step(weight=2.5)\ndef a():\n    pass\n\n"
        "@step(after=['a'])\ndef b():\n    pass\n\npipeline('p', steps=[a, b], timeout=3600)\n",
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text('[tool.stepc]\nconcurrency = "allow"\n', encoding="utf-8")
    dag_file = tmp_path / "p_dag.py"
    dag_file.write_text(compile_airflow(flow, cwd=tmp_path), encoding="utf-8")
    report = dagbag(airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert report["errors"] == {}, report["errors"]
    (dag,) = report["dags"].values()
    assert dag["dagrun_timeout"] == 3600.0 and dag["max_active_runs"] == 16  # Airflow's own default
    assert dag["tasks"]["a"]["priority_weight"] == 3 and dag["tasks"]["b"]["priority_weight"] == 1
    (tmp_path / "pyproject.toml").write_text('[tool.stepc]\nconcurrency = "replace"\n', encoding="utf-8")
    result = stepc("compile", str(flow), "--target", "airflow", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0 and "max_active_runs=1," in result.stdout
    assert "warning[T101]: pipeline 'p' has concurrency = \"replace\"" in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.stepc]\nname = "x"\nconcurrency = "sometimes"\n', encoding="utf-8")
    result = stepc("compile", str(flow), "--target", "airflow", "-o", "-", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pyproject.toml:3:1: error[T103]: setting 'concurrency' in [tool.stepc] is one of" in result.stderr


def test_kubernetes_mode(airflow_python: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.stepc.airflow]\noperator = "kubernetes"\nnamespace = "ml"\nstore = "s3://bucket/store"\n',
        encoding="utf-8",
    )
    shutil.copy(GOLDEN / "features.py", tmp_path / "features.py")
    text = compile_airflow(tmp_path / "features.py", cwd=tmp_path)
    assert "KubernetesPodOperator" in text and "BashOperator" not in text
    assert lint_dag(text, {"airflow", "kubernetes"}) == []
    assert "limits={'memory': '2Gi', 'nvidia.com/gpu': '1'}" in text and "do_xcom_push=True" in text
    assert "'nvidia.com/gpu.product': 'nvidia-tesla-t4'" in text and "image=literal('python:3.11-slim')" in text
    dag_file = tmp_path / "feature_tour_dag.py"
    dag_file.write_text(text, encoding="utf-8")
    report = dagbag(airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert report["errors"] == {}, report["errors"]
    (dag,) = report["dags"].values()
    assert dag["tasks"]["plan_shards"]["type"] == "KubernetesPodOperator"
    # a pod name per task (the operator adds a random suffix per pod), logs followed live
    pods = {n: t for n, t in dag["tasks"].items() if "name" in t}
    assert len(pods) == 8 and len({t["name"] for t in pods.values()}) == 8
    assert pods["plan_shards"]["name"] == "plan-shards" and pods["by_region"]["name"] == "by-region"
    assert all(t["get_logs"] is True and t["log_events_on_failure"] is True for t in pods.values())


KPO_SCRIPT = 'echo first; sleep 2; echo "{\\"status\\": \\"ok\\"}"; exit 3'


def test_kubernetes_pod_output_streams_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """The pod's shell wrapper: the output shows while the step runs (the pod log that
    get_logs follows), the last line becomes the XCom file, and the step's exit code stays."""
    from stepc.backends.airflow import KPO_WRAP

    script = KPO_WRAP.format(command=KPO_SCRIPT).replace("/airflow/xcom", str(tmp_path / "xcom"))
    script = script.replace("/tmp/stepc-", str(tmp_path / "stepc-"))
    process = subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first == "first\n" and process.poll() is None  # seen before the step ends
    rest = process.stdout.read()
    assert process.wait(timeout=30) == 3
    assert rest == '{"status": "ok"}\n'
    assert json.loads((tmp_path / "xcom" / "return.json").read_text(encoding="utf-8")) == {"status": "ok"}


def test_lint_catches_what_import_would_not() -> None:
    bad = (
        "from stepc import step\nimport yaml\nfrom . import x\n"
        "a = f'{{{{ run_id }}}}'\n"
        "t = BashOperator(task_id='a b', bash_command='echo {{ params.x }}')\n"
        "u = BashOperator(task_id='dup', bash_command='true')\nv = BashOperator(task_id='dup')\n"
    )
    problems = "\n".join(lint_dag(bad, {"airflow"}))
    for expected in ("imports 'stepc'", "imports 'yaml'", "relative import", "f-string", "'a b' is not",
                     "template expression", "not unique: ['dup']"):  # fmt: skip
        assert expected in problems
    assert lint_dag("def (:", {"airflow"})[0].startswith("not valid Python")


def test_what_airflow_cannot_say_is_a_diagnostic(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from stepc import pipeline, step\n\n@step\ndef a(x: int):\n    pass\n\n"
        "pipeline('p', steps=[a], schedule='0 1 * * *')\n",
        encoding="utf-8",
    )
    result = stepc("compile", str(flow), "--target", "airflow", "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and "error[T101]" in result.stderr
    assert "needs a default for every parameter" in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.stepc.airflow]\noperator = "celery"\n', encoding="utf-8")
    flow.write_text("from stepc import step\n\n@step\ndef a():\n    pass\n", encoding="utf-8")
    result = stepc("compile", str(flow), "--target", "airflow", "-o", "-", cwd=tmp_path)
    assert result.returncode == 1 and "not 'celery'" in result.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "pyproject.toml").write_text("[tool.stepc]\n", encoding="utf-8")
    flow.write_text(
        f"from stepc import step\n\n@step(foreach='xs')\ndef a(xs: list = {list(range(1100))}):\n    pass\n"
    )
    result = stepc("compile", str(flow), "--target", "airflow", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0 and "warning[T101]" in result.stderr and "max_map_length = 1024" in result.stderr


def test_hostile_strings_cannot_break_or_inject(airflow_python: Path, tmp_path: Path) -> None:
    flow = tmp_path / "hostile.py"
    hostile_flow(flow)
    text = compile_airflow(flow, cwd=tmp_path)
    assert lint_dag(text, {"airflow"}) == []
    dag_file = tmp_path / "hostile_dag.py"
    dag_file.write_text(text, encoding="utf-8")
    report = dagbag(airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert report["errors"] == {}, report["errors"]
    (dag,) = report["dags"].values()
    assert [dag["params"][f"p{i}"] for i in range(len(HOSTILE))] == HOSTILE  # every default survives
    assert not dag["doc_md"].endswith(".md")  # never taken for a file to read
    steps = {n: t for n, t in dag["tasks"].items() if "env" in t and n != "stepc_rollback"}
    assert len(steps) == len(HOSTILE)
    assert all(len(n) <= 250 for n in dag["tasks"])
    commands = {t["command"] for t in steps.values()}
    assert len(commands) == 1 and not any(h in next(iter(commands)) for h in HOSTILE)
    rendered_values = set()
    for task in steps.values():
        env = task["env"]
        # the only template expressions are the run id and the parameters (rendered as JSON)
        assert env["STEPC_RUN_ID"] == "RUN-ID" and json.loads(env["STEPC_PARAMS"]) == {"x": "{{ 7 * 7 }}"}
        rendered_values |= {v for k, v in env.items() if k.startswith("V")}
        assert env["STEPC_STEP_1"] in {"s" + "_" * (i % 3) + "x" * 75 for i in range(3)} | {
            f"step-{i}" if i % 2 else f"step.{i}" for i in range(3, len(HOSTILE))
        }
    assert rendered_values == set(HOSTILE)  # env values reach the task unrendered
    tags = {f"k{i}:{h}" for i, h in enumerate(HOSTILE)}
    assert {t for t in tags if len(t) <= 100} <= set(dag["tags"])  # Airflow's longest tag
    long_tags = [t for t in dag["tags"] if len(t) == 100 and t[0] == "k"]  # the rest end in a stable hash
    assert sorted(t[:93] for t in long_tags) == sorted(t[:93] for t in tags if len(t) > 100)


# --- airflow dags test against stepc run ---------------------------------------------------------


def log(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


class Runs:
    """`airflow dags test` runs and `stepc run`s of the same flows, started together in the
    background (two or three at a time), so that Airflow's start-up cost is paid in parallel;
    each test then waits for the runs it checks."""

    def __init__(self, db: Path, root: Path) -> None:
        self.db = db
        self.root = root
        self.pool = ThreadPoolExecutor(max_workers=3)
        self.futures: dict[str, Future[tuple[subprocess.CompletedProcess[str], Path]]] = {}

    def airflow(self, key: str, dag_text: str, dag_id: str, conf: dict[str, Any], project: Path = REPO) -> None:
        """Start `airflow dags test` of one DAG file, with a fresh AIRFLOW_HOME and store."""
        work = self.root / key
        home = work / "airflow"
        (home / "dags").mkdir(parents=True)
        shutil.copy(self.db, home / "airflow.db")
        dag_file = home / "dags" / "stepc_dag.py"
        dag_file.write_text(dag_text, encoding="utf-8")
        store = work / "airflow-store"
        argv = [str(airflow_env.airflow()), "dags", "test", dag_id, "-f", str(dag_file), "-c", json.dumps(conf)]
        env = airflow_environ(home, STEPC_STORE=str(store), STEPC_PROJECT_ROOT=str(project))
        self.futures[f"airflow:{key}"] = self.pool.submit(self._run, argv, env, work, store)

    def local(
        self, key: str, flow: str, params: dict[str, Any], project: Path = REPO, pipeline: str | None = None
    ) -> None:
        """Start `stepc run` of the same flow with the same parameters, into its own store."""
        store = self.root / key / "local-store"
        store.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "stepc", "run", flow, "-q", "--store", str(store)]
        argv += ["--pipeline", pipeline] if pipeline else []
        for name, value in params.items():
            argv += ["-p", f"{name}={value if isinstance(value, str) else json.dumps(value)}"]
        self.futures[f"local:{key}"] = self.pool.submit(self._run, argv, dict(os.environ), project, store)

    @staticmethod
    def _run(
        argv: list[str], env: dict[str, str], cwd: Path, store: Path
    ) -> tuple[subprocess.CompletedProcess[str], Path]:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=600), store

    def result(self, kind: str, key: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        return self.futures[f"{kind}:{key}"].result()


ETL_CONF = {mode: {"mode": mode, "batch_size": 40} for mode in ("full", "quick")}
IRIS_CONF = {"n_rows": 120, "learning_rates": [0.5, 0.05]}
# threshold > 1000: report is skipped; notify runs after it all the same (after= orders only)
FEATURES_CONF = {"n_shards": 2, "threshold": 5000, "regions": ["eu", "us", "ap"]}
HOSTILE_CONF = {f"p{i}": text + "!" for i, text in enumerate(HOSTILE) if i % 2 == 0}
# a switch on a value route computes; fit retries, fails every attempt and @catch keeps the run going
SWITCH = "tests/flows/conditions/switch.py"
SWITCH_CONF = {
    "switch-train": {"choice": "train", "fail_fit": False},
    "switch-report": {"choice": "report", "fail_fit": False},
    "switch-catch": {"choice": "train", "fail_fit": True},
}

# static branches and their join inside a foreach (a Metaflow oracle flow)
FOREACH_SPLIT = "tests/flows/metaflow/foreach_split.py"
# a switch inside a foreach: each item takes its own case
FOREACH_SWITCH = "tests/flows/metaflow/foreach_switch.py"
# nested scopes, each task fanned out over the index paths its lister publishes: (flow, dag
# id, pipeline, conf); the function dialect's pipeline is the class flow's equivalent
NESTED_FLOWS = {
    "nested-foreach": ("tests/flows/metaflow/nested_foreach.py", "NestedForeachFlow", None, {"scale": 2}),
    "foreach-branch-foreach": (
        "tests/flows/metaflow/foreach_branch_foreach.py", "ForeachBranchForeachFlow", None, {}
    ),
    "nested-functions": ("tests/flows/scopes/functions.py", "nested", "nested", {"scale": 2}),
}  # fmt: skip

# conditions on upstream outputs in the function dialect: an output against a parameter and
# against a literal, and one inside a foreach: key -> (pipeline, which is the dag id, conf)
GATE = "tests/flows/conditions/gate.py"
GATE_RUNS = {
    "gate-deploy": ("gate", {}),
    "gate-review": ("gate", {"quality": 0.3}),
    "gate-items": ("items", {}),
}

# The golden class flows (a Metaflow file among them): split, join views, merge_artifacts,
# foreach, a switch on a parameter and on a computed value, @catch: (DAG file, dag id, flow, conf)
CLASS_FLOWS = {
    "sweep-report": ("SweepFlow_dag.py", "SweepFlow", "golden/metaflow_style.py", {"mode": "report"}),
    "selection-publish": (
        "ModelSelectionFlow_dag.py", "ModelSelectionFlow", "golden/model_selection.py", {"threshold": 0.1}
    ),
    "chain": ("ChainFlow_dag.py", "ChainFlow", "golden/foreach_chain.py", {"offset": 5}),
}  # fmt: skip


@pytest.fixture(scope="session")
def runs(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every run the fidelity tests check, started at once."""
    home = tmp_path_factory.mktemp("airflow-db")
    (home / "dags").mkdir()
    migrated = subprocess.run(
        [str(airflow_env.airflow()), "db", "migrate"],
        capture_output=True, text=True, env=airflow_environ(home), timeout=300,
    )  # fmt: skip
    assert migrated.returncode == 0, log(migrated)
    root = tmp_path_factory.mktemp("airflow-runs")
    started = Runs(home / "airflow.db", root)
    started.airflow("iris", (COMPILED / "iris-training_dag.py").read_text(), "iris-training", IRIS_CONF)
    started.airflow("features", (COMPILED / "feature-tour_dag.py").read_text(), "feature-tour", FEATURES_CONF)
    for mode, conf in ETL_CONF.items():
        started.airflow(f"etl-{mode}", (COMPILED / "etl-branches_dag.py").read_text(), "etl-branches", conf)
    for key, (dag_name, dag_id, flow_file, conf) in CLASS_FLOWS.items():
        started.airflow(key, (COMPILED / dag_name).read_text(), dag_id, conf)
        started.local(key, flow_file, conf)
    split_dag = compile_airflow(FOREACH_SPLIT)
    started.airflow("foreach-split", split_dag, "ForeachSplitFlow", {})
    started.local("foreach-split", FOREACH_SPLIT, {})
    started.airflow("foreach-switch", compile_airflow(FOREACH_SWITCH), "ForeachSwitchFlow", {})
    started.local("foreach-switch", FOREACH_SWITCH, {})
    for key, (flow_file, dag_id, pipeline, conf) in NESTED_FLOWS.items():
        started.airflow(key, compile_airflow(flow_file, pipeline=pipeline), dag_id, conf)
        started.local(key, flow_file, conf, pipeline=pipeline)
    for key, (pipeline, conf) in GATE_RUNS.items():
        started.airflow(key, compile_airflow(GATE, pipeline=pipeline), pipeline, conf)
        started.local(key, GATE, conf, pipeline=pipeline)
    switch_dag = compile_airflow(SWITCH)
    for key, switch_conf in SWITCH_CONF.items():
        started.airflow(key, switch_dag, "Switch", switch_conf)
        started.local(key, SWITCH, switch_conf)
    flow = "tests/flows/airflow/retry_rollback.py"
    for engine in ("airflow", "local"):
        conf = {"journal": str(root / f"{engine}.journal"), "fail": True}
        if engine == "airflow":
            started.airflow("retry", compile_airflow(flow), "retry-rollback", conf)
        else:
            started.local("retry", flow, conf)
    hostile = root / "hostile-project"
    hostile.mkdir()
    (hostile / "pyproject.toml").write_text("[tool.stepc]\n", encoding="utf-8")
    hostile_flow(hostile / "hostile.py")
    text = compile_airflow(hostile / "hostile.py", cwd=hostile)
    dag_id = next(line for line in text.splitlines() if line.startswith("    dag_id=")).split("'")[1]
    Path("/tmp/stepc-pwned").unlink(missing_ok=True)
    started.airflow("hostile", text, dag_id, HOSTILE_CONF, project=hostile)
    started.local("hostile", "hostile.py", HOSTILE_CONF, project=hostile)
    started.local("iris", "golden/iris_training.py", IRIS_CONF)
    started.local("features", "golden/features.py", FEATURES_CONF)
    for mode, conf in ETL_CONF.items():
        started.local(f"etl-{mode}", "golden/etl_branches.py", conf)
    yield started
    started.pool.shutdown(wait=True)


# (step, item path or None, output name) -> the artifact's value
Found = dict[tuple[str, tuple[int, ...] | None, str], Any]


def outputs(root: Path) -> Found:
    """Every artifact of the one run in a store, by (step, item, output name)."""
    store = Store(root)
    (run_dir,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    run_id = unquote(run_dir.name)
    found: Found = {}
    for step_dir in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        step = unquote(step_dir.name)
        for result in store.committed(run_id, step):
            if result.status == "succeeded":
                for meta in result.outputs:
                    found[(step, result.item, meta.name)] = store.read_artifact(meta)
    return found


def both(runs: Runs, key: str, ok: bool = True) -> tuple[Path, Path, str]:
    """The Airflow and the local store of a run pair, once both have finished as expected."""
    ran, airflow_store = runs.result("airflow", key)
    assert (ran.returncode == 0) == ok, log(ran)
    local, local_store = runs.result("local", key)
    assert (local.returncode == 0) == ok, log(local)
    return airflow_store, local_store, ran.stdout + ran.stderr


def test_dags_test_foreach_matches_stepc_run(runs: Runs) -> None:
    airflow_store, local_store, _ = both(runs, "iris")
    found = outputs(airflow_store)
    assert {k for k in found if k[0] == "train"} == {("train", (0,), "model"), ("train", (1,), "model")}
    assert found == outputs(local_store)


def test_dags_test_chained_maps_and_skips_match_stepc_run(runs: Runs) -> None:
    airflow_store, local_store, _ = both(runs, "features")
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    assert {k[:2] for k in found if k[0] == "double"} == {("double", (0,)), ("double", (1,))}
    assert {k[:2] for k in found if k[0] == "by_region"} == {("by_region", (i,)) for i in range(3)}
    assert ("total", None, "total") in found and not any(k[0] == "report" for k in found)
    run_dir = next((airflow_store / "runs").iterdir())
    assert (run_dir / "notify" / "result.json").exists()


@pytest.mark.parametrize("mode", ["full", "quick"])
def test_dags_test_branches_match_stepc_run(runs: Runs, mode: str) -> None:
    airflow_store, local_store, _ = both(runs, f"etl-{mode}")

    def comparable(
        found: Found,
    ) -> Found:
        # publish writes a temporary file: compare what it holds, not where it is
        fixed = dict(found)
        path = fixed.pop(("publish", None, "published"))
        fixed[("publish", None, "published")] = json.loads(Path(path).read_text())
        fixed[("verify", None, "summary")] = fixed[("verify", None, "summary")]["rows"]
        return fixed

    found = comparable(outputs(airflow_store))
    assert found == comparable(outputs(local_store))
    taken, skipped = ("full_scoring", "quick_scoring") if mode == "full" else ("quick_scoring", "full_scoring")
    assert any(k[0] == taken for k in found) and not any(k[0] == skipped for k in found)
    assert not list(airflow_store.rglob("rollback.log"))  # nothing failed, so nothing was rolled back


@pytest.mark.parametrize("key", sorted(SWITCH_CONF))
def test_dags_test_switch_on_a_computed_value_matches_stepc_run(runs: Runs, key: str) -> None:
    """The short-circuit after route reads its control line: Airflow skips the branch not taken
    (its `stepc exec` never runs), and end merges `result` from the branch that ran."""
    airflow_store, local_store, _ = both(runs, key)

    def comparable(
        found: Found,
    ) -> Found:
        return {k: repr(v) if k[2] == "fit_error" else v for k, v in found.items()}  # exceptions: by text

    found = outputs(airflow_store)
    assert comparable(found) == comparable(outputs(local_store))
    conf = SWITCH_CONF[key]
    other = "describe" if conf["choice"] == "train" else "fit"
    run_dir = next((airflow_store / "runs").iterdir())
    assert not (run_dir / other).exists()  # skipped by Airflow, before exec
    result = None if conf["fail_fit"] else (2.0 if conf["choice"] == "train" else 3)
    assert found[("end", None, "summary")] == {"mode": conf["choice"], "result": result}
    if conf["fail_fit"]:
        run_id = unquote(run_dir.name)
        fit = Store(airflow_store).read_result(run_id, "fit", None)
        assert fit is not None and fit.attempt == 3  # Airflow's retries, and the last one caught


@pytest.mark.parametrize("key", sorted(GATE_RUNS))
def test_dags_test_of_conditions_on_outputs_matches_stepc_run(runs: Runs, key: str) -> None:
    """The short-circuit after evaluate reads its control line and decides as `stepc exec`
    would: the branch not taken never starts, and what follows it is skipped with it."""
    airflow_store, local_store, _ = both(runs, key)
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    run_dir = next((airflow_store / "runs").iterdir())
    if key == "gate-items":  # each item decides in its own task
        assert {k[1] for k in found if k[0] == "grow"} == {(1,), (3,)}
        assert found[("collect", None, "total")] == [1, 30, 2, 40]
        return
    taken, other = ("deploy", "review") if key == "gate-deploy" else ("review", "deploy")
    assert any(k[0] == taken for k in found) and not (run_dir / other).exists()  # skipped by Airflow
    assert any(k[0] == "announce" for k in found) == (taken == "deploy")  # skipped with deploy
    summary = found[("report", None, "summary")]
    assert (summary["announcement"] is None, summary["review"] is None) == (taken != "deploy", taken != "review")


@pytest.mark.parametrize("key", sorted(CLASS_FLOWS))
def test_dags_test_of_the_golden_class_flows_matches_stepc_run(runs: Runs, key: str) -> None:
    airflow_store, local_store, _ = both(runs, key)
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    if key == "chain":  # two steps per item, each reading the matching item of the one before
        assert found[("end", None, "summary")]["totals"] == [107, 109, 111]
        assert {k[1] for k in found if k[0] == "second"} == {(0,), (1,), (2,)}
    elif key == "sweep-report":
        assert ("describe", None, "result") in found and not any(k[0] == "fit" for k in found)
        assert {k[1] for k in found if k[0] == "score"} == {(0,), (1,), (2,), (3,)}
    else:
        summary = found[("end", None, "summary")]
        assert summary["destination"] == f"models/{found[('collect', None, 'best')]}"
        assert summary["families"] == ["linear", "tree"] and not any(k[0] == "report" for k in found)


def test_dags_test_of_branches_inside_a_foreach_matches_stepc_run(runs: Runs) -> None:
    airflow_store, local_store, _ = both(runs, "foreach-split")
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    assert {k[1] for k in found if k[0] == "meet"} == {(0,), (1,), (2,)}  # each item's branches met
    assert found[("end", None, "summary")] == {"pairs": [(6, 1), (13, 1), (18, 1)], "bases": [3, 6, 8]}


def test_dags_test_of_a_switch_inside_a_foreach_matches_stepc_run(runs: Runs) -> None:
    airflow_store, local_store, _ = both(runs, "foreach-switch")
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    # each item ran the case it chose and only that one
    assert {k[1] for k in found if k[0] == "shrink"} == {(1,), (3,)}
    assert {k[1] for k in found if k[0] == "grow"} == {(0,), (2,)}
    rows = [(0, "small", 9), (1, "big", 4), (2, "small", 3), (3, "big", 5)]
    assert [tuple(r) for r in found[("end", None, "summary")]["rows"]] == rows


@pytest.mark.parametrize("key", sorted(NESTED_FLOWS))
def test_dags_test_of_nested_foreach_matches_stepc_run(runs: Runs, key: str) -> None:
    airflow_store, local_store, _ = both(runs, key)
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    inner = "letter" if key == "foreach-branch-foreach" else "inner"
    paths = {k[1] for k in found if k[0] == inner}
    expected = (
        {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)}
        if inner == "letter"
        else {(0, 0), (0, 1), (1, 0), (2, 0), (2, 1), (2, 2)}
    )
    assert paths == expected  # one mapped task per index path, under items/<i>/<j>/


def test_dags_test_retry_and_rollback_match_stepc_run(runs: Runs) -> None:
    airflow_store, local_store, _ = both(runs, "retry", ok=False)  # the runs fail: check raises
    journals = {engine: (runs.root / f"{engine}.journal").read_text().splitlines() for engine in ("airflow", "local")}
    # flaky failed once and then succeeded; check failed; prepare's rollback ran
    assert journals["airflow"] == ["prepare", "flaky", "flaky", "undo prepare"]
    assert journals["airflow"] == journals["local"]
    assert outputs(airflow_store) == outputs(local_store)
    run_id = unquote(next((airflow_store / "runs").iterdir()).name)
    flaky = Store(airflow_store).read_result(run_id, "flaky", None)
    assert flaky is not None and flaky.attempt == 2


def test_hostile_strings_run_in_airflow_as_in_stepc_run(runs: Runs) -> None:
    """End to end: hostile defaults, conditions, env values and foreach items in a real run,
    half the steps skipped by their conditions; nothing reaches a shell (no file is touched)
    or a template (every value comes back as it was)."""
    airflow_store, local_store, _ = both(runs, "hostile")
    found = outputs(airflow_store)
    assert found == outputs(local_store)
    plain = sorted(tuple(v) for k, v in found.items() if k[0] != "each")
    assert plain == sorted((HOSTILE_CONF[f"p{i}"], HOSTILE[i]) for i in range(0, len(HOSTILE), 2))
    assert [found[("each", (i,), "oe")] for i in range(len(HOSTILE))] == [[h, JINJA] for h in HOSTILE]
    assert not Path("/tmp/stepc-pwned").exists()


def test_control_line_parsing_survives_glued_output(airflow_python: Path, tmp_path: Path) -> None:
    """A step that prints without a final newline glues its text to the control line."""
    script = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('dag', sys.argv[1])\n"
        "dag = importlib.util.module_from_spec(spec); spec.loader.exec_module(dag)\n"
        "print(json.dumps([dag._control(x) for x in json.loads(sys.argv[2])]))\n"
    )
    cases = ['half a line {"foreach": {"grid": {"count": 2}}}', '{"status": "skipped"}', None, "no json {", {"a": 1}]
    result = subprocess.run(
        [str(airflow_python), "-c", script, str(COMPILED / "iris-training_dag.py"), json.dumps(cases)],
        capture_output=True, text=True, env=airflow_environ(tmp_path), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed == [{"foreach": {"grid": {"count": 2}}}, {"status": "skipped"}, {}, {}, {"a": 1}]


def test_kubernetes_mode_keeps_hostile_values_unrendered(airflow_python: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.stepc.airflow]\noperator = "kubernetes"\n', encoding="utf-8")
    hostile_flow(tmp_path / "hostile.py")
    text = compile_airflow(tmp_path / "hostile.py", cwd=tmp_path)
    assert lint_dag(text, {"airflow", "kubernetes"}) == []
    dag_file = tmp_path / "hostile_dag.py"
    dag_file.write_text(text, encoding="utf-8")
    report = dagbag(airflow_python, tmp_path, dag_file)[str(dag_file)]
    assert report["errors"] == {}, report["errors"]
    (dag,) = report["dags"].values()
    pods = [t for t in dag["tasks"].values() if t["type"] == "KubernetesPodOperator"]
    assert len(pods) == len(HOSTILE)
    assert {v for t in pods for k, v in t["env"].items() if k.startswith("V")} == set(HOSTILE)
    assert all(t["env"]["STEPC_RUN_ID"] == "RUN-ID" for t in pods)
    assert len({t["command"] for t in pods}) == 1 and not any(h in pods[0]["command"] for h in HOSTILE)


def test_step_names_cannot_take_the_helper_tasks_ids(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from stepc import step\n\n"
        "def undo(o):\n    pass\n\n"
        "@step(name='stepc_failed', outputs=['o'], rollback=undo)\ndef a():\n    return 1\n\n"
        "@step(name='when_b', outputs=['xs'])\ndef w():\n    return [1]\n\n"
        "@step(name='items_c', inputs=['xs'], foreach='xs', outputs=['y'])\ndef i(xs):\n    return xs\n\n"
        "@step(name='b', when='n > 1')\ndef b(n: int = 2):\n    pass\n\n"
        "@step(name='c', inputs=['xs'], foreach='xs', when='n > 1')\ndef c(xs, n: int = 2):\n    pass\n",
        encoding="utf-8",
    )
    text = compile_airflow(flow, cwd=tmp_path)  # the lint refuses duplicate task ids
    ids: list[str] = [
        str(n.value.value)
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.keyword) and n.arg == "task_id" and isinstance(n.value, ast.Constant)
    ]
    assert len(ids) == len(set(ids)) == 10 and {"stepc_failed", "stepc_rollback", "b", "c"} <= set(ids)
    # a step and a helper that would share an id both end with a hash of their own name
    assert sum(i.startswith("when_b_") for i in ids) == 2 and sum(i.startswith("items_c_") for i in ids) == 2
    assert sum(i.startswith("stepc_failed") for i in ids) == 2
