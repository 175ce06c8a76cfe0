"""The IR of every example flow is stable, schema-valid and matches its stored snapshot.

Regenerate the snapshots after an intended change with ``STEPC_UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

from stepc import ir_json
from tests.helpers import FLOWS, GOLDEN, SHARED, stepc

UPDATE = bool(os.environ.get("STEPC_UPDATE_GOLDEN"))


def test_golden_holds_the_shared_examples() -> None:
    if not SHARED.exists():
        pytest.skip("../shared is not here")  # CI always has it: the check below then runs
    for example in sorted((SHARED / "examples").glob("*.py")):
        assert (GOLDEN / example.name).read_bytes() == example.read_bytes(), example.name


@pytest.mark.parametrize("flow", FLOWS, ids=lambda p: p.stem)
def test_ir_matches_snapshot(flow: Path) -> None:
    result = stepc("ir", f"golden/{flow.name}")
    assert result.returncode == 0, result.stderr
    snapshot = GOLDEN / f"{flow.stem}.ir.json"
    if UPDATE:
        snapshot.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("flow", FLOWS, ids=lambda p: p.stem)
def test_ir_is_byte_identical_across_runs_and_directories(flow: Path, tmp_path: Path) -> None:
    first = stepc("ir", f"golden/{flow.name}").stdout
    again = stepc("ir", f"golden/{flow.name}").stdout
    from_golden = stepc("ir", flow.name, cwd=GOLDEN).stdout
    from_elsewhere = stepc("ir", str(flow), cwd=tmp_path).stdout
    assert first and first == again == from_golden == from_elsewhere
    assert str(GOLDEN) not in first and "/work" not in first


@pytest.mark.parametrize("flow", FLOWS, ids=lambda p: p.stem)
def test_ir_validates_against_the_shipped_schema_and_round_trips(flow: Path) -> None:
    text = stepc("ir", f"golden/{flow.name}").stdout
    jsonschema.Draft202012Validator(ir_json.json_schema()).validate(json.loads(text))
    pipeline = ir_json.from_json(text)
    assert ir_json.to_json(pipeline) == text


def test_a_copied_project_gives_the_same_ir(tmp_path: Path) -> None:
    """No absolute path leaks: the same project in another place has the same IR."""
    project = tmp_path / "elsewhere"
    (project / "golden").mkdir(parents=True)
    shutil.copy(GOLDEN.parent / "pyproject.toml", project / "pyproject.toml")
    shutil.copy(GOLDEN / "iris_training.py", project / "golden" / "iris_training.py")
    moved = stepc("ir", "golden/iris_training.py", cwd=project).stdout
    assert moved == stepc("ir", "golden/iris_training.py").stdout


def test_schema_rejects_a_broken_document() -> None:
    text = stepc("ir", "golden/iris_training.py").stdout
    data = json.loads(text)
    data["steps"][0]["retry"]["times"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(ir_json.json_schema()).validate(data)
    del data["steps"][0]["retry"]
    data["steps"][0]["retyr"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(ir_json.json_schema()).validate(data)
