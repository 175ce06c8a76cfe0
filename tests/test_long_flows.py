"""Long flows: every lint walks a 10,000-task chain without running out of stack, cycles are
still found in full, and the outputs a condition reads are found in one pass."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from stepc.backends.argo_lint import lint_documents
from stepc.backends.gha_lint import lint_workflow

from stepc.frontend import load
from stepc.runtime.entry import condition_outputs, condition_reads
from tests.helpers import stepc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from flows import conditions_source  # noqa: E402

DEPTH = 10_000  # well past Python's default recursion limit of 1,000


def test_argo_lint_reads_a_10000_task_chain_and_finds_its_cycle() -> None:
    names = [f"t{i:05}" for i in range(DEPTH)]
    tasks = [
        {"name": n, "template": "t"} | ({"depends": names[i + 1]} if i + 1 < DEPTH else {}) for i, n in enumerate(names)
    ]
    document = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "long"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, {"name": "t"}]},
    }
    assert lint_documents(yaml.safe_dump(document)) == []
    tasks[-1]["depends"] = names[0]
    problems = lint_documents(yaml.safe_dump(document))
    assert len(problems) == 1 and problems[0].startswith(f"tasks form a cycle: {names[0]} -> ")


def test_gha_lint_reads_a_10000_job_chain_and_finds_its_cycle() -> None:
    names = [f"j{i:05}" for i in range(DEPTH)]
    jobs = {
        n: {"runs-on": "x", "steps": []} | ({"needs": [names[i + 1]]} if i + 1 < DEPTH else {})
        for i, n in enumerate(names)
    }
    workflow = {"name": "long", "on": {"workflow_dispatch": {}}, "jobs": jobs}
    assert lint_workflow(yaml.safe_dump(workflow)) == []
    jobs[names[-1]]["needs"] = [names[0]]
    problems = lint_workflow(yaml.safe_dump(workflow))
    assert len(problems) == 1 and problems[0].startswith(f"jobs form a cycle through `needs`: {names[0]} -> ")


def test_condition_reads_matches_condition_outputs_step_by_step() -> None:
    pipeline, diagnostics = load("tests/flows/conditions/switch.py")
    assert pipeline is not None, diagnostics
    reads = condition_reads(pipeline)
    assert reads, "the switch's branches read an upstream artifact"
    for step in pipeline.steps:
        assert condition_outputs(pipeline, step) == reads.get(step.name, ())


def test_a_long_chain_with_conditions_compiles_to_every_target(tmp_path: Path) -> None:
    flow = tmp_path / "long.py"
    flow.write_text(conditions_source(1500), encoding="utf-8")
    result = stepc("compile", str(flow), "--target", "all", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len([p for p in (tmp_path / "out").rglob("*") if p.is_file()]) == 4
