"""Foreach scopes: a foreach body holds any sub-DAG (nested foreach, static branches and their
joins, switches), in the IR, in ``stepc run`` and in ``stepc exec`` with index paths.

The results are compared with Metaflow's in tests/test_metaflow_oracle.py; here: the IR's
scopes and input modes, the store layout ``items/<i>/<j>/``, and a run driven task by task
through ``stepc exec --item I/J`` as an engine would, which must end where ``stepc run`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import stepc
from stepc.frontend.load import load
from stepc.ir import Input, Pipeline
from stepc.items import parse_item
from stepc.runtime.store import Store
from tests.helpers import stepc as stepc_cli

FLOWS = Path(__file__).resolve().parent / "flows" / "metaflow"
NESTED = FLOWS / "nested_foreach.py"
SPLIT = FLOWS / "foreach_split.py"
SWITCH = FLOWS / "foreach_switch.py"


def _ir(path: Path) -> Pipeline:
    pipeline, diagnostics = load(str(path))
    assert pipeline is not None, diagnostics
    return pipeline


def test_nested_foreach_reads_into_two_scopes() -> None:
    ir = _ir(NESTED)
    scopes = {s.name: s.scope for s in ir.steps}
    assert scopes == {
        "start": (),
        "outer": ("outer",),
        "inner": ("outer", "inner"),
        "join_inner": ("outer",),  # a join closes the innermost scope only
        "join_outer": (),
        "end": (),
    }
    inner = ir.step("inner")
    assert inner.foreach is not None and inner.foreach.name == "members"
    assert Input("members", "outer", "item") in inner.inputs  # an element of the outer item's list
    assert Input("label", "outer", "value") in inner.inputs  # from the enclosing item's task
    join_inner = ir.step("join_inner")
    assert {(i.name, i.producer, i.mode) for i in join_inner.inputs} >= {
        ("value", "inner", "gather"),
        ("label", "outer", "item"),
        ("groups", "start", "item"),
    }


def test_branches_and_a_switch_inside_a_foreach_stay_in_its_scope() -> None:
    split = _ir(SPLIT)
    assert {s.name: s.scope for s in split.steps if s.scope} == {
        "each": ("each",),
        "left": ("each",),
        "right": ("each",),
        "meet": ("each",),
    }
    assert {(i.name, i.producer, i.mode) for i in split.step("meet").inputs} >= {("l", "left", "item")}
    switch = _ir(SWITCH)
    shrink = switch.step("shrink")
    assert shrink.scope == ("classify",)
    assert shrink.condition is not None and "classify.kind == 'big'" in stepc.ir.condition_text(shrink.condition)


def test_stepc_run_lays_nested_items_out_by_index_path(tmp_path: Path) -> None:
    result = stepc.run(str(NESTED), {"scale": 2}, store=tmp_path / "store")
    assert result.ok, result.error
    runs = tmp_path / "store" / "runs" / result.run_id
    inner = sorted(
        p.parent.relative_to(runs / "inner" / "items").as_posix() for p in runs.glob("inner/items/*/*/result.json")
    )
    assert inner == ["0/0", "0/1", "1/0", "2/0", "2/1", "2/2"]
    assert result["end"].outputs["summary"]["table"] == [("g0", [20, 41]), ("g1", [60]), ("g2", [80, 101, 122])]
    logs = stepc_cli("logs", result.run_id, "inner", "--item", "2/1", "--store", str(tmp_path / "store"))
    assert logs.returncode == 0, logs.stderr
    bad = stepc_cli("logs", result.run_id, "inner", "--item", "2/x", "--store", str(tmp_path / "store"))
    assert bad.returncode == 2 and "not an index path" in bad.stderr and "Traceback" not in bad.stderr


def _exec(store: Path, *args: str) -> tuple[dict[str, object], int]:
    r = subprocess.run(
        [sys.executable, "-m", "stepc", "exec", str(NESTED), *args, "--run-id", "e1", "--store", f"file://{store}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = r.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else {}), r.returncode


def test_stepc_exec_runs_each_index_path_as_an_engine_would(tmp_path: Path) -> None:
    store = tmp_path / "store"
    start, code = _exec(store, "--step", "start")
    assert code == 0 and start["foreach"] == {"groups": {"count": 3, "items": [0, 1, 2]}}
    sizes = []
    for i in range(3):
        outer, code = _exec(store, "--step", "outer", "--item", str(i))
        assert code == 0 and outer["item"] == str(i)
        counts = outer["foreach"]
        assert isinstance(counts, dict)
        sizes.append(counts["members"]["count"])
    assert sizes == [2, 1, 3]
    wrong, code = _exec(store, "--step", "inner", "--item", "1")
    assert code == 2 and "2 indices" in str(wrong["error"])
    out_of_range, code = _exec(store, "--step", "inner", "--item", "1/1")
    assert code == 2 and "out of range" in str(out_of_range["error"])
    for i, size in enumerate(sizes):
        for j in range(size):
            inner, code = _exec(store, "--step", "inner", "--item", f"{i}/{j}")
            assert code == 0 and inner["item"] == f"{i}/{j}"
        assert _exec(store, "--step", "join_inner", "--item", str(i))[1] == 0
    for name in ("join_outer", "end"):
        assert _exec(store, "--step", name)[1] == 0
    the_store = Store(store)
    end = the_store.read_result("e1", "end", None)
    assert end is not None
    summary = the_store.read_artifact(end.output("summary"))
    local = stepc.run(str(NESTED), store=tmp_path / "local")
    assert summary == local["end"].outputs["summary"]


@pytest.mark.parametrize("text, path", [("3", (3,)), ("1/0", (1, 0)), (" 2/10/4 ", (2, 10, 4))])
def test_item_paths_parse(text: str, path: tuple[int, ...]) -> None:
    assert parse_item(text) == path


@pytest.mark.parametrize("text", ["", "-1", "1//2", "a", "1/b"])
def test_bad_item_paths_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="index path"):
        parse_item(text)
