"""The settings of the GitHub Actions target (``[tool.stepc.gha]``, or a step's ``@engine(gha=)``)."""

from __future__ import annotations

from .gha_pins import pins_problem
from .gha_quote import no_expression
from .settings import Setting

GHA_SETTINGS: dict[str, Setting] = {
    "runs_on": Setting(
        "strings",
        "ubuntu-latest",
        "the runner label(s) of every job a bigger runner does not take (a step's own wins over both)",
        check=no_expression,
        step=True,
    ),
    "environment": Setting(
        "string",
        None,
        "the deployment environment of the jobs (`environment:`, its protection rules and secrets)",
        check=no_expression,
        step=True,
    ),
    "default_capacity": Setting(
        "capacity", {"cpu": 4, "memory": "16Gi"}, "what the `runs_on` runner holds (no GPU unless `gpu` says)"
    ),
    "runners": Setting(
        "machines",
        [],
        "`{runs_on, gpu, cpu, memory}` tables: the first that holds a bigger step runs it",
        shown="`[]`",
    ),
    "container": Setting(
        "boolean",
        False,
        "run every job in its step's image (a step with an image of its own runs in it either way)",
    ),
    "install": Setting("strings", "pip install .", "the command(s) that install the project in a job"),
    "python": Setting("string", "3.12", "the Python version `actions/setup-python` installs"),
    "params": Setting(
        "string", "inputs", "one dispatch input per parameter, or one JSON input", choices=("inputs", "json")
    ),
    "concurrency": Setting(
        "string",
        "${{ github.workflow }}-${{ github.ref }}",
        "the workflow's concurrency group: one run at a time per group (empty: no group)",
    ),
    "cancel_in_progress": Setting(
        "boolean", False, "a new run in the concurrency group cancels the running one (else it waits)"
    ),
    "pip_cache": Setting("boolean", True, "`cache: pip` on `actions/setup-python` in each job that installs"),
    "cache_dependency_path": Setting(
        "strings",
        None,
        "the files the pip cache is keyed on",
        shown="setup-python's: `**/requirements.txt`, `**/pyproject.toml`",
    ),
    "setup_minutes": Setting("integer", 10, "minutes a job's timeout adds for checkout and install"),
    "retention_days": Setting("integer", None, "how long the store artifacts are kept"),
    "pins": Setting(
        "table",
        {},
        '`"owner/repo" = "<commit SHA> # <version>"` rows overriding the actions\' pinned commits',
        shown="stepc's pin table",
        check=pins_problem,
    ),
}
