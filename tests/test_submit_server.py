"""A real Airflow 3 for the `stepc submit` tests: api-server, scheduler and dag-processor as
separate processes from the Airflow venv, on 127.0.0.1, with SQLite and a generated password.

Not a test module of its own (it holds no tests); ``tests/test_submit.py`` starts one server
for the whole module. Every process is started in its own process group and stopped by its
PID, whatever happens to the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests import airflow_env

# The simple auth manager of Airflow 3 (checked against config.yml of the installed 3.3).
AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
USER = "admin"


def free_port() -> int:
    """A port nobody listens on right now (bound to 127.0.0.1 only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AirflowServer:
    """One Airflow installation in ``home``: start, wait for health, stop."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dags = home / "dags"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def environ(self) -> dict[str, str]:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # Every component signs or checks the same JWTs: one secret for all of them.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            # Find new files and re-parse changed ones within seconds, with one parser.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            # SQLite: three processes write at once; wait for a lock instead of crashing at
            # sqlite3's 5 s default (the scheduler exits on "database is locked").
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "stepc_sqlite_args.CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "stepc_sqlite_args.CONNECT_ARGS",
            "PYTHONPATH": str(self.home / "pythonpath"),
            "PATH": f"{airflow_env.VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        env.pop("VIRTUAL_ENV", None)
        for name in ("STEPC_AIRFLOW_USER", "STEPC_AIRFLOW_PASSWORD", "STEPC_AIRFLOW_TOKEN"):
            env.pop(name, None)
        return env

    def start(self, timeout: float = 150) -> None:
        """Migrate the database, start the three processes, and wait until the API answers and
        the scheduler and dag-processor report healthy (bounded by ``timeout``)."""
        self.dags.mkdir(parents=True, exist_ok=True)
        (self.home / "pythonpath").mkdir(exist_ok=True)
        (self.home / "pythonpath" / "stepc_sqlite_args.py").write_text("CONNECT_ARGS = {'timeout': 60}\n")
        # The password file is ours: the auth manager keeps what it finds for a user.
        (self.home / "passwords.json").write_text(json.dumps({USER: self.password}) + "\n", encoding="utf-8")
        env = self.environ()
        migrated = subprocess.run(
            [str(airflow_env.airflow()), "db", "migrate"], capture_output=True, text=True, env=env, timeout=300
        )
        if migrated.returncode != 0:
            raise RuntimeError("airflow db migrate failed:\n" + (migrated.stdout + migrated.stderr)[-4000:])
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        for name, argv in commands.items():
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
            self.processes[name] = subprocess.Popen(
                [str(airflow_env.airflow()), *argv],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.home, start_new_session=True,
            )  # fmt: skip
            log.close()
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.log(name)}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.loads(response.read())
                last = json.dumps(health)
                wanted = ("metadatabase", "scheduler", "dag_processor")
                if all((health.get(k) or {}).get("status") == "healthy" for k in wanted):
                    return
            except (OSError, urllib.error.URLError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"Airflow not healthy after {timeout:.0f}s ({last}):\n{self.logs()}")

    def dead(self) -> list[str]:
        """The processes that have exited (none should, while the tests run)."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-tail:] if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in self.processes)

    def stop(self, grace: float = 15) -> None:
        """Stop every process this server started, by its process group: TERM, then KILL."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            # The group may outlive its leader (task runners): kill whatever is left of it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait(timeout=10)
