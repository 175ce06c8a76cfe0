"""The Airflow 3 REST API as stepc needs it, through ``apache-airflow-client``: log in, read DAGs,
import errors, runs and task instances, unpause, trigger.

Every call is bounded by a request timeout, and every failure (no server, refused credentials,
an HTTP error, an answer that is not Airflow 3's) becomes one :class:`SubmitError` line. The
password and the token never appear in a message: they only ever travel in request bodies and
headers, which no error text here includes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import airflow_client.client as af
import urllib3
from airflow_client.client.exceptions import ApiException
from pydantic import ValidationError

from stepc.submit import SubmitError

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"
PAGE = 1000  # the API's own maximum page size


class NotFound(SubmitError):
    """Airflow answered 404."""


@dataclass(frozen=True)
class Credentials:
    """A user and password to trade for a JWT at ``/auth/token``, or a token given as it is."""

    user: str | None = None
    password: str | None = None
    token: str | None = None


def _reason(exc: BaseException) -> str:
    """A few words for a transport error (urllib3 nests the real cause in ``reason``)."""
    cause: BaseException = exc
    while isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if "name or service" in text or "nodename" in text or "resolution" in text:
            return "host name not found"
        return "cannot connect"
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS error"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return "connection dropped"
    return type(cause).__name__


def _detail(body: str | bytes | None) -> str:
    """The ``detail`` of a FastAPI error body, on one short line."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = body or ""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "detail" in data:
            text = data["detail"] if isinstance(data["detail"], str) else json.dumps(data["detail"])
    except ValueError:
        pass
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


class Airflow:
    """One Airflow API server, logged in once; each method is one bounded request."""

    def __init__(self, url: str, request_timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = request_timeout
        config = af.Configuration(host=self.url)
        # A dead server fails at once instead of after urllib3's three silent retries.
        config.retries = urllib3.util.Retry(total=1, connect=1, read=0, redirect=2, backoff_factor=0.2)
        self.config = config
        self.api = af.ApiClient(config)

    # -- the error boundary -------------------------------------------------------------------

    def call(self, what: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` with the request timeout; failures become one line that
        says what was being done (``what``)."""
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise SubmitError(f"cannot reach Airflow at {self.url} ({_reason(exc)}) to {what}") from None
        except ApiException as exc:
            raise self._http_error(what, exc) from None
        except (ValidationError, ValueError) as exc:
            # The client could not read the answer: most likely not an Airflow 3 API server.
            kind = type(exc).__name__
            raise SubmitError(f"unexpected answer from {self.url} to {what} ({kind}); is it Airflow 3?") from None

    def find(self, what: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Like :meth:`call`, but None when Airflow answers 404 (not there, or not yet)."""
        try:
            return self.call(what, method, *args, **kwargs)
        except NotFound:
            return None

    def _http_error(self, what: str, exc: ApiException) -> SubmitError:
        status = exc.status or 0
        if status == 404:
            return NotFound(f"Airflow at {self.url} has nothing to {what} (404): {_detail(exc.body)}")
        if status == 0:
            return SubmitError(f"cannot reach Airflow at {self.url} to {what}: {exc.reason}")
        if status == 401:
            return SubmitError(
                f"Airflow at {self.url} refused the credentials (401) to {what}: "
                "check --user/--password or --token (STEPC_AIRFLOW_USER/PASSWORD/TOKEN)"
            )
        if status == 403:
            return SubmitError(f"Airflow at {self.url} refused to {what} (403): {_detail(exc.body)}")
        detail = _detail(exc.body)
        return SubmitError(f"Airflow at {self.url} answered {status} {exc.reason or ''} to {what}: {detail}".strip())

    # -- auth -----------------------------------------------------------------------------------

    def login(self, credentials: Credentials) -> None:
        """Use the token given, or get one for the user and password from ``/auth/token``."""
        if credentials.token:
            self.config.access_token = credentials.token
            return
        if not (credentials.user and credentials.password):
            raise SubmitError(
                "Airflow needs credentials: --user and --password (or STEPC_AIRFLOW_USER and "
                "STEPC_AIRFLOW_PASSWORD), or --token (STEPC_AIRFLOW_TOKEN)",
                code=2,
            )
        body = {"username": credentials.user, "password": credentials.password}
        response = self.call(
            "log in",
            self.api.call_api,
            "POST",
            f"{self.url}/auth/token",
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
        )
        data = response.read()  # type: ignore[no-untyped-call]
        if response.status in (400, 401, 403):
            raise SubmitError(f"Airflow at {self.url} rejected the login of user {credentials.user!r}: {_detail(data)}")
        token = None
        if 200 <= response.status < 300:
            try:
                token = json.loads(data).get("access_token")
            except (ValueError, AttributeError):
                token = None
        if not isinstance(token, str) or not token:
            raise SubmitError(
                f"Airflow at {self.url} gave no token for user {credentials.user!r} "
                f"(HTTP {response.status} from /auth/token; is it Airflow 3 with the simple or FAB auth manager?)"
            )
        self.config.access_token = token

    # -- DAGs -----------------------------------------------------------------------------------

    def dag(self, dag_id: str) -> af.DAGResponse | None:
        """The DAG as Airflow knows it, or None before the DAG processor has seen it."""
        return self.find(f"read DAG {dag_id!r}", af.DAGApi(self.api).get_dag, dag_id)

    def dag_source(self, dag_id: str) -> str | None:
        """The source text of the DAG's latest parsed version."""
        api = af.DagSourceApi(self.api)
        source = self.find(f"read the source of DAG {dag_id!r}", api.get_dag_source, dag_id, accept="application/json")
        return None if source is None else source.content

    def shape(self, dag_id: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """The task ids and parameter names of the DAG Airflow will run (its serialized DAG),
        or None while it has none."""
        tasks = self.find(f"read the tasks of DAG {dag_id!r}", af.TaskApi(self.api).get_tasks, dag_id)
        details = self.find(f"read DAG {dag_id!r}", af.DAGApi(self.api).get_dag_details, dag_id)
        if tasks is None or details is None:
            return None
        return frozenset(t.task_id for t in tasks.tasks if t.task_id), frozenset(details.params or {})

    def import_errors(self, file_name: str) -> list[af.ImportErrorResponse]:
        """Import errors of files whose name ends with ``file_name``."""
        found = self.call(
            "read import errors",
            af.ImportErrorApi(self.api).get_import_errors,
            filename_pattern=file_name,
            limit=100,
        )
        errors: list[af.ImportErrorResponse] = found.import_errors
        return [e for e in errors if e.filename.rsplit("/", 1)[-1] == file_name]

    def reparse(self, file_token: str) -> None:
        """Ask the DAG processor to parse the DAG's file now rather than at its next turn."""
        self.call("request a re-parse", af.DAGParsingApi(self.api).reparse_dag_file, file_token)

    def unpause(self, dag_id: str) -> None:
        body = af.DAGPatchBody(is_paused=False)
        self.call(f"unpause DAG {dag_id!r}", af.DAGApi(self.api).patch_dag, dag_id, body, update_mask=["is_paused"])

    # -- runs -----------------------------------------------------------------------------------

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> af.DAGRunResponse:
        body = af.TriggerDAGRunPostBody(conf=conf, logical_date=None)
        return self.call(f"trigger DAG {dag_id!r}", af.DagRunApi(self.api).trigger_dag_run, dag_id, body)

    def run(self, dag_id: str, run_id: str) -> af.DAGRunResponse | None:
        return self.find(f"read run {run_id!r}", af.DagRunApi(self.api).get_dag_run, dag_id, run_id)

    def runs_named(self, run_id: str) -> list[af.DAGRunResponse]:
        """Runs of any DAG with exactly this run id (``~`` is every DAG, in the API)."""
        found = self.call(
            f"look for run {run_id!r}",
            af.DagRunApi(self.api).get_dag_runs,
            "~",
            run_id_pattern=run_id,
            limit=100,
        )
        runs: list[af.DAGRunResponse] = found.dag_runs
        return [r for r in runs if r.dag_run_id == run_id]

    def task_instances(self, dag_id: str, run_id: str) -> list[af.TaskInstanceResponse]:
        """Every task instance of the run (mapped ones one per item), page by page."""
        out: list[af.TaskInstanceResponse] = []
        api = af.TaskInstanceApi(self.api)
        while True:
            page = self.call(
                f"read the tasks of run {run_id!r}",
                api.get_task_instances,
                dag_id,
                run_id,
                limit=PAGE,
                offset=len(out),
                order_by=["map_index"],
            )
            items: list[af.TaskInstanceResponse] = page.task_instances
            out.extend(items)
            if len(items) < PAGE or len(out) >= (page.total_entries or 0):
                return out
