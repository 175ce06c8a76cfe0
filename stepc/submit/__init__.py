"""``stepc submit`` / ``stepc status``: deploy a compiled pipeline to a running engine, run it and
follow it. One module per engine concern; Airflow 3 (through ``apache-airflow-client``) is the
first engine.

Everything here reports problems as :class:`SubmitError` with one line meant for the user, so
that the command prints it and exits without a traceback.
"""

from __future__ import annotations


class SubmitError(Exception):
    """A problem the user can act on: one line, and the exit code it ends the command with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
