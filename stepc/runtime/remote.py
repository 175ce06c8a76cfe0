"""Stores behind a URL such as ``s3://bucket/prefix``: for engines whose steps run on
different machines (Argo's default store).

The object store is reached through fsspec (``pip install fsspec s3fs``, or the package for the
URL's scheme), imported only when such a URL is used. The layout is the local one. Each
process works in a scratch directory: what it reads comes from the object store, what it
writes lands in the scratch copy first (so logs can capture file descriptors) and is then
uploaded whole, with ``result.json`` last, so that a committed result still means complete
outputs. The run database belongs to the local interpreter; a remote store has none.
"""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path
from typing import Any, Protocol

from stepc.runtime.store import Store


class FileSystem(Protocol):
    """The part of fsspec's ``AbstractFileSystem`` a remote store uses."""

    def cat_file(self, path: str) -> bytes: ...
    def pipe_file(self, path: str, value: bytes) -> None: ...
    def ls(self, path: str, detail: bool = ...) -> list[Any]: ...
    def exists(self, path: str) -> bool: ...
    def mv(self, path1: str, path2: str) -> None: ...


class RemoteStore(Store):
    """A store whose files live in ``fs`` under ``prefix``; ``scratch`` is this process's copy."""

    def __init__(self, fs: FileSystem, prefix: str, scratch: Path) -> None:
        super().__init__(scratch)
        self.fs = fs
        self.prefix = prefix.rstrip("/")

    def url_of(self, path: Path) -> str:
        return f"{self.prefix}/{self.relative(path)}"

    def _read(self, path: Path) -> bytes:
        return self.fs.cat_file(self.url_of(path))

    def _listdir(self, path: Path) -> list[str]:
        try:
            entries = self.fs.ls(self.url_of(path), detail=False)
        except FileNotFoundError:
            return []
        return [posixpath.basename(str(e).rstrip("/")) for e in entries]

    def _exists(self, path: Path) -> bool:
        return bool(self.fs.exists(self.url_of(path)))

    def _move(self, source: Path, target: Path) -> None:
        self.fs.mv(self.url_of(source), self.url_of(target))

    def publish(self, path: Path) -> None:
        self.fs.pipe_file(self.url_of(path), path.read_bytes())


def open_remote(url: str) -> RemoteStore:
    """A :class:`RemoteStore` for ``url``, or ValueError saying what to install."""
    try:
        import fsspec  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        scheme = url.split("://", 1)[0]
        raise ValueError(
            f"store {url!r}: a {scheme}:// store needs fsspec and its {scheme} driver (pip install fsspec s3fs)"
        ) from None
    fs, prefix = fsspec.core.url_to_fs(url)
    return RemoteStore(fs, prefix, Path(tempfile.mkdtemp(prefix="stepc-scratch-")))
