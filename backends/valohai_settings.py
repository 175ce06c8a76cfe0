"""The settings of the Valohai target (``[tool.stepc.valohai]``, or a step's ``@engine(valohai=)``)."""

from __future__ import annotations

from .settings import Setting

VALOHAI_SETTINGS: dict[str, Setting] = {
    "file": Setting(
        "string",
        None,
        'the file name (`"valohai.yaml"` is the one Valohai reads)',
        shown="`<pipeline>.valohai.yaml`",
    ),
    "environment": Setting(
        "string",
        None,
        "the environment of every step a bigger one does not take (a step's own wins over both)",
        shown="the project's default",
        step=True,
    ),
    "environment_variable_groups": Setting(
        "strings",
        [],
        "the project's environment variable groups the steps get (`environment-variable-groups`)",
        shown="`[]`",
        step=True,
    ),
    "default_capacity": Setting(
        "capacity", {}, "what `environment` holds (no GPU unless `gpu` says)", shown="no limit, no GPU"
    ),
    "environments": Setting(
        "machines",
        [],
        "`{environment, gpu, cpu, memory}` tables: the first that holds a bigger step runs it",
        shown="`[]`",
    ),
    "install": Setting("strings", "pip install .", "the command(s) that install the project in an execution"),
    "setup_minutes": Setting("integer", 10, "minutes a time limit adds for the image and install"),
}
