"""Serialisation formats, atomic writes and run ids of the store."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from stepc.runtime import serialize
from stepc.runtime.files import atomic_write
from stepc.runtime.store import Store, default_root, new_run_id, root_from_url


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ({"a": [1, 2.5, None, True, "x"]}, "json"),
        ([], "json"),
        ((1, 2), "pickle"),
        ({1: "int key"}, "pickle"),
        ({"s": {1, 2}}, "pickle"),
        (math.nan, "pickle"),
        (Path("/x"), "pickle"),
    ],
)
def test_plain_data_is_json_everything_else_pickle(value: object, fmt: str) -> None:
    data, got = serialize.dumps(value)
    assert got == fmt
    back = serialize.loads(data, got)
    assert back == value or (isinstance(value, float) and math.isnan(back))
    assert type(back) is type(value)


def test_artifact_round_trip_and_lineage_id(tmp_path: Path) -> None:
    store = Store(tmp_path)
    meta = store.write_artifact("r1", "train", (3,), "model", {"w": (1.0, 2.0)})
    assert meta.id == "r1/train/3/model" and meta.fmt == "pickle"
    assert meta.path == "runs/r1/train/items/3/out.model.pkl"
    assert store.read_artifact(meta) == {"w": (1.0, 2.0)}
    assert meta.sha256 == serialize.digest((tmp_path / meta.path).read_bytes())
    restored = store.restore("r2", "train", (3,), meta)
    assert restored.origin == "r1/train/3/model" and store.read_artifact(restored) == {"w": (1.0, 2.0)}


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.bin"
    atomic_write(target, b"x" * 100_000)
    atomic_write(target, b"y")
    assert target.read_bytes() == b"y"
    assert os.listdir(target.parent) == ["file.bin"]


def test_run_ids_sort_by_time() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_store_locations(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert default_root(tmp_path / "a" / "b" / "flow.py") == tmp_path.resolve() / ".stepc"
    assert root_from_url(f"file://{tmp_path}/s") == tmp_path.resolve() / "s"
    with pytest.raises(ValueError, match="only local paths"):
        root_from_url("s3://bucket/x")
