"""The artifact store: a directory tree every step attempt reads from and writes to.

Layout under the root (``.stepc/`` in the project by default)::

    stepc.db                                  runs, steps, attempts, cache (runner only)
    runs/<run_id>/run.json                    what was run: flow, pipeline, parameters
    runs/<run_id>/<step>/[items/<i>/[<j>/...]]  one task: a step, or one item of a foreach step
                                              (an index per enclosing foreach, outermost first);
                                              <step> is percent-quoted, see stepc.runtime.layout
        out.<name>.json|.pkl                  the artifacts of the successful attempt
        result.json                           commit marker, written last (see TaskResult)
        log.<n>.txt                           everything attempt n printed, tracebacks too
        status.<n>.json                       how attempt n ended, when it failed

Children write files only; every write goes to a temporary name and is renamed into place, so
an artifact or a result is either whole or absent. The SQLite database is written by the runner
process alone (see :mod:`stepc.interpreter.rundb`).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from stepc.items import Item, item_from_json, item_text, item_to_json
from stepc.runtime import serialize
from stepc.runtime.faults import CorruptStoreFile, writing
from stepc.runtime.files import atomic_write, write_json
from stepc.runtime.layout import RUN_RECORD, step_segment
from stepc.runtime.layout import segment as _segment

STORE_DIR = ".stepc"
DB_NAME = "stepc.db"
ROLLED_BACK = "result.rolled-back.json"


class CorruptArtifact(ValueError):
    """A stored artifact whose bytes are not the ones recorded when it was written."""


def warn(message: str) -> None:
    """One line on stderr: the store had something wrong that stepc works around."""
    import sys

    print(f"stepc: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ArtifactMeta:
    """One stored artifact: where it is, how it is encoded, and its content hash."""

    name: str
    id: str  # "<run>/<step>/<name>" or "<run>/<step>/<i>[/<j>...]/<name>": stable lineage id
    path: str  # relative to the store root, POSIX separators
    fmt: str
    sha256: str
    size: int
    origin: str | None = None  # the artifact id a cache hit restored this one from

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ArtifactMeta:
        return ArtifactMeta(**d)


@dataclass(frozen=True)
class TaskResult:
    """How a task (a step, or one item) ended; ``result.json`` holds the committed one."""

    status: str  # succeeded | failed | skipped
    step: str
    item: Item
    attempt: int
    started: float
    ended: float
    outputs: tuple[ArtifactMeta, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)  # lengths of outputs that feed a foreach
    cached: bool = False
    error: str | None = None
    exit_code: int = 0
    # Class dialect: the steps ``self.next(...)`` named, the switch case it chose, and the
    # exception @catch caught ("<type>: <message>"); absent from result.json when unset.
    next: tuple[str, ...] | None = None
    switch: str | None = None
    caught: str | None = None

    def output(self, name: str) -> ArtifactMeta:
        for meta in self.outputs:
            if meta.name == name:
                return meta
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outputs"] = [asdict(o) for o in self.outputs]
        d["item"] = item_to_json(self.item)
        for name in ("next", "switch", "caught"):
            if d[name] is None:
                del d[name]
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TaskResult:
        d = dict(d)
        d["outputs"] = tuple(ArtifactMeta.from_dict(o) for o in d.get("outputs", ()))
        d["item"] = item_from_json(d.get("item"))
        if d.get("next") is not None:
            d["next"] = tuple(d["next"])
        return TaskResult(**d)


def new_run_id() -> str:
    """A run id that sorts by creation time (UTC) and does not collide: ``20261124T084512123Z-3fa9c1``."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}{int(now * 1000) % 1000:03d}Z-{secrets.token_hex(3)}"


def default_root(flow_path: str | os.PathLike[str]) -> Path:
    """``.stepc/`` beside the nearest ``pyproject.toml`` above the flow (the project's), else in
    the current directory: where ``stepc runs``, ``show`` and ``logs`` started from the same
    directory look (they ask with a flow path in the current directory)."""
    flow_dir = Path(flow_path).resolve().parent
    for directory in (flow_dir, *flow_dir.parents):
        if (directory / "pyproject.toml").is_file():
            return directory / STORE_DIR
    return Path.cwd().resolve() / STORE_DIR


def root_from_url(url: str) -> Path:
    """``file:///abs/path``, ``file://rel/path`` or a plain path; other schemes are not local."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        path = unquote(parsed.netloc + parsed.path) if parsed.scheme == "file" else url
        return Path(path).expanduser().resolve()
    raise ValueError(f"store URL {url!r}: only local paths and file:// URLs are supported here")


def open_store(store: str | os.PathLike[str] | None, near: str | os.PathLike[str], remote: bool = False) -> Store:
    """``store`` (a path or ``file://`` URL; with ``remote``, any fsspec URL too), else
    ``.stepc/`` of the project around ``near``. ValueError for a URL that cannot be used."""
    if store is None:
        return Store(default_root(near))
    url = os.fspath(store)
    if remote and "://" in url and not url.startswith("file://"):
        from stepc.runtime.remote import open_remote

        return open_remote(url)
    try:
        return Store(root_from_url(url))
    except ValueError:
        raise ValueError(f"store {url!r}: the local interpreter keeps its runs in a local directory") from None


class Store:
    """A store rooted at a local directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # --- the file primitives a remote store replaces (see stepc.runtime.remote) ------------

    def _read(self, path: Path) -> bytes:
        """The bytes of a store file; FileNotFoundError when there is none."""
        with open(path, "rb") as f:
            return f.read()

    def _listdir(self, path: Path) -> list[str]:
        try:
            return os.listdir(path)
        except FileNotFoundError:
            return []

    def _exists(self, path: Path) -> bool:
        return path.is_file()

    def _move(self, source: Path, target: Path) -> None:
        os.replace(source, target)

    def publish(self, path: Path) -> None:
        """Make a file written locally under the root visible to other processes (a no-op
        here: the root is the store)."""

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _segment(run_id)

    def step_dir(self, run_id: str, step: str) -> Path:
        return self.run_dir(run_id) / step_segment(step)

    def task_dir(self, run_id: str, step: str, item: Item) -> Path:
        base = self.step_dir(run_id, step)
        return base if item is None else base.joinpath("items", *(str(i) for i in item))

    def relative(self, path: Path) -> str:
        """A path inside the store as recorded in the database: relative, POSIX separators."""
        return path.relative_to(self.root).as_posix()

    def log_path(self, run_id: str, step: str, item: Item, attempt: int) -> Path:
        return self.task_dir(run_id, step, item) / f"log.{attempt}.txt"

    def status_path(self, run_id: str, step: str, item: Item, attempt: int) -> Path:
        return self.task_dir(run_id, step, item) / f"status.{attempt}.json"

    def attempt_numbers(self, run_id: str, step: str, item: Item) -> list[int]:
        """Attempt numbers with a log, in order (every attempt that started has one)."""
        names = self._listdir(self.task_dir(run_id, step, item))
        return sorted(int(n[4:-4]) for n in names if n.startswith("log.") and n.endswith(".txt") and n[4:-4].isdigit())

    # --- artifacts -----------------------------------------------------------------------

    def write_artifact(self, run_id: str, step: str, item: Item, name: str, value: Any) -> ArtifactMeta:
        data, fmt = serialize.dumps(value)
        path = self.task_dir(run_id, step, item) / ("out." + _segment(name) + serialize.EXTENSIONS[fmt])
        with writing(self.root, f"output '{name}' of step '{step}' ({self.relative(path)})"):
            atomic_write(path, data)
            self.publish(path)
        return ArtifactMeta(
            name=name,
            id=artifact_id(run_id, step, item, name),
            path=path.relative_to(self.root).as_posix(),
            fmt=fmt,
            sha256=serialize.digest(data),
            size=len(data),
        )

    def read_bytes(self, meta: ArtifactMeta) -> bytes:
        """The artifact's bytes, checked against the size and sha256 recorded when it was
        written: a changed file is :class:`CorruptArtifact`, never served as a result."""
        data = self._read(self.root / meta.path)
        if len(data) != meta.size or serialize.digest(data) != meta.sha256:
            raise CorruptArtifact(
                f"output '{meta.name}' ({meta.id}) changed after it was written: its size or sha256 "
                f"is not the recorded one ({meta.path})"
            )
        return data

    def verify(self, meta: ArtifactMeta) -> bool:
        """Whether the artifact is there and holds the bytes recorded for it."""
        try:
            self.read_bytes(meta)
        except (FileNotFoundError, CorruptArtifact):
            return False
        return True

    def read_artifact(self, meta: ArtifactMeta) -> Any:
        return serialize.loads(self.read_bytes(meta), meta.fmt)

    def restore(self, run_id: str, step: str, item: Item, source: ArtifactMeta) -> ArtifactMeta:
        """Put a copy of ``source`` (from another run) in this task's outputs: a hard link where
        the file system allows it, so a cache hit costs no copying."""
        target = self.task_dir(run_id, step, item) / Path(source.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with writing(self.root, f"output '{source.name}' of step '{step}' ({self.relative(target)})"):
            try:
                os.link(self.root / source.path, tmp)
            except OSError:
                atomic_write(tmp, self.read_bytes(source))
            os.replace(tmp, target)
        return ArtifactMeta(
            name=source.name,
            id=artifact_id(run_id, step, item, source.name),
            path=target.relative_to(self.root).as_posix(),
            fmt=source.fmt,
            sha256=source.sha256,
            size=source.size,
            origin=source.origin or source.id,
        )

    def exists(self, meta: ArtifactMeta) -> bool:
        return self._exists(self.root / meta.path)

    # --- results -------------------------------------------------------------------------

    def _write_json(self, path: Path, data: Any) -> None:
        with writing(self.root, self.relative(path)):
            write_json(path, data)
            self.publish(path)

    def _read_json(self, path: Path) -> Any:
        """A JSON file of the store; :class:`CorruptStoreFile` when it does not parse."""
        data = self._read(path)
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise CorruptStoreFile(path, str(exc)) from None

    def append_log(self, path: Path, text: str) -> None:
        """Add the runner's own note to an attempt's log."""
        with writing(self.root, self.relative(path)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
            self.publish(path)

    def commit(self, run_id: str, result: TaskResult) -> None:
        """Mark the task done; written after its outputs, so a visible result means whole outputs."""
        self._write_json(self.task_dir(run_id, result.step, result.item) / "result.json", result.to_dict())

    def write_status(self, run_id: str, result: TaskResult) -> None:
        """Record how a failed attempt ended (a success is recorded by :meth:`commit`)."""
        self._write_json(self.status_path(run_id, result.step, result.item, result.attempt), result.to_dict())

    def read_result(self, run_id: str, step: str, item: Item, rolled_back: bool = False) -> TaskResult | None:
        """The committed result of a task (or, with ``rolled_back``, one a rollback undid)."""
        name = ROLLED_BACK if rolled_back else "result.json"
        path = self.task_dir(run_id, step, item) / name
        try:
            return TaskResult.from_dict(self._read_json(path))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError, AttributeError):  # truncated, edited, not ours
            warn(f"{path} is corrupt: the task counts as not done (a resume runs it again)")
            return None

    def committed(self, run_id: str, step: str, rolled_back: bool = False) -> list[TaskResult]:
        """Every committed result of a step: the step's own, or its items' in item order."""
        found = [self.read_result(run_id, step, None, rolled_back)]
        found += [self.read_result(run_id, step, path, rolled_back) for path in self._item_paths(run_id, step)]
        return [r for r in found if r is not None]

    def _item_paths(self, run_id: str, step: str) -> list[tuple[int, ...]]:
        """The index paths with a task directory, in item order: a directory holding task
        files is a task, one holding only numbered directories a level of nesting."""
        paths: list[tuple[int, ...]] = []
        levels: list[tuple[int, ...]] = [()]
        while levels:
            prefix = levels.pop()
            directory = self.step_dir(run_id, step).joinpath("items", *(str(i) for i in prefix))
            names = self._listdir(directory)
            numbers = sorted(int(n) for n in names if n.isdigit())
            if prefix and (not numbers or any(not n.isdigit() for n in names)):
                paths.append(prefix)
                continue
            levels.extend(prefix + (k,) for k in reversed(numbers))
        return sorted(paths)

    def uncommit(self, run_id: str, step: str, item: Item) -> None:
        """A rollback undid the task: it is no longer done, so a resumed run runs it again."""
        task = self.task_dir(run_id, step, item)
        self._move(task / "result.json", task / ROLLED_BACK)

    def read_attempt(self, run_id: str, step: str, item: Item, attempt: int) -> TaskResult | None:
        """How attempt ``attempt`` ended, or None when it left no record (it was killed)."""
        result = self.read_result(run_id, step, item)
        if result is not None and result.attempt == attempt:
            return result
        try:
            return TaskResult.from_dict(self._read_json(self.status_path(run_id, step, item, attempt)))
        except (FileNotFoundError, ValueError):
            return None

    # --- runs ----------------------------------------------------------------------------

    def write_run(self, run_id: str, info: dict[str, Any]) -> None:
        self._write_json(self.run_dir(run_id) / RUN_RECORD, info)

    def read_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = self._read_json(self.run_dir(run_id) / RUN_RECORD)
            return data
        except FileNotFoundError:
            return None


def artifact_id(run_id: str, step: str, item: Item, name: str) -> str:
    return f"{run_id}/{step}/{name}" if item is None else f"{run_id}/{step}/{item_text(item)}/{name}"
