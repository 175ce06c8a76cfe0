"""The settings of the Airflow target (``[tool.stepc.airflow]``, or a step's ``@engine(airflow=)``)."""

from __future__ import annotations

from .kubernetes import KUBERNETES_SETTINGS
from .settings import Setting

AIRFLOW_SETTINGS: dict[str, Setting] = {
    "operator": Setting(
        "string",
        "bash",
        "`BashOperator` on the workers, or `KubernetesPodOperator` with the step's image",
        choices=("bash", "kubernetes"),
    ),
    "store": Setting(
        "string",
        None,
        "the artifact store path or URL (`STEPC_STORE` overrides at run time)",
        shown='`".stepc"`; `"s3://stepc/store"` for pods',
    ),
    "store_secret": Setting("string", "stepc-store", "pods only: the secret holding the store credentials"),
    "project_root": Setting(
        "string", ".", "where tasks find the flow file (`STEPC_PROJECT_ROOT` overrides at run time)"
    ),
    "python": Setting("string", "python", "the Python that runs `stepc exec` on a worker"),
    "namespace": Setting("string", None, "pods only: the Kubernetes namespace"),
    "pool": Setting("string", None, "the Airflow pool of every task", step=True),
    "queue": Setting(
        "string", None, "the executor queue of every task (`queue`: Celery or Kubernetes workers)", step=True
    ),
    "priority_weight": Setting(
        "integer", None, "the tasks' `priority_weight` (Airflow's default: 1)", minimum=1, step=True
    ),
    "gpu_pool": Setting("string", None, "Bash mode: the pool whose slots are GPUs, for GPU steps"),
    "start_date": Setting("date", "2024-01-01", "the DAG's `start_date`"),
    "max_map_length": Setting(
        "integer", 1024, "the deployment's `[core] max_map_length` (the most items of a mapped task)"
    ),
    "url": Setting("string", None, "`stepc submit`: the Airflow API server", shown='`"http://127.0.0.1:8080"`'),
    "dags_folder": Setting("string", None, "`stepc submit`: the dags folder the DAG file is written to"),
    **KUBERNETES_SETTINGS,
}
