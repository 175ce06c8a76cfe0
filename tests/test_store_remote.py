"""A remote store (the object-store layout behind a URL), driven through a local stand-in for
an fsspec file system: ``stepc exec`` steps in separate scratch directories share results
only through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stepc.frontend import load
from stepc.runtime.entry import exec_rollbacks, exec_task
from stepc.runtime.remote import RemoteStore

ROOT = Path(__file__).resolve().parent.parent


class FolderFS:
    """The fsspec calls a RemoteStore makes, over a folder (as an object store would serve them)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _p(self, path: str) -> Path:
        return self.root / path

    def cat_file(self, path: str) -> bytes:
        return self._p(path).read_bytes()

    def pipe_file(self, path: str, value: bytes) -> None:
        self._p(path).parent.mkdir(parents=True, exist_ok=True)
        self._p(path).write_bytes(value)

    def ls(self, path: str, detail: bool = False) -> list[Any]:
        if not self._p(path).is_dir():
            raise FileNotFoundError(path)
        return [f"{path}/{p.name}" for p in self._p(path).iterdir()]

    def exists(self, path: str) -> bool:
        return self._p(path).exists()

    def mv(self, path1: str, path2: str) -> None:
        self._p(path1).rename(self._p(path2))


def test_steps_in_separate_scratch_directories_share_the_remote_store(tmp_path: Path) -> None:
    bucket = FolderFS(tmp_path / "bucket")
    pipeline, _ = load(str(ROOT / "golden" / "etl_branches.py"))
    assert pipeline is not None
    flow = str(ROOT / "golden" / "etl_branches.py")
    params = {"mode": "quick", "max_rows": 1, "batch_size": 50, "sample_every": 10, "target": "t"}

    def step(name: str, n: int) -> tuple[dict[str, Any], int]:
        store = RemoteStore(bucket, "stepc/store", tmp_path / f"scratch{n}")  # a new machine each time
        return exec_task(pipeline, flow, name, "r1", store, params)

    for n, name in enumerate(["extract", "clean", "full_scoring", "quick_scoring", "publish"]):
        message, code = step(name, n)
        assert code == 0, message
    assert message["outputs"] == {"published": "r1/publish/published"}
    remote = tmp_path / "bucket" / "stepc" / "store" / "runs" / "r1"
    published = json.loads((remote / "publish" / "out.published.json").read_text())
    assert json.loads((remote / "full_scoring" / "result.json").read_text())["status"] == "skipped"
    assert (remote / "publish" / "log.1.txt").exists()

    failed, code = step("verify", 9)
    assert code == 1 and "more than 1" in str(failed["error"])
    assert json.loads((remote / "verify" / "status.1.json").read_text())["status"] == "failed"
    undone, code = exec_rollbacks(pipeline, flow, "r1", RemoteStore(bucket, "stepc/store", tmp_path / "scratch10"))
    assert code == 0 and [r["step"] for r in undone["rollbacks"]] == ["publish"]
    assert not Path(published).exists()
    assert (remote / "publish" / "result.rolled-back.json").exists() and (remote / "publish" / "rollback.log").exists()
