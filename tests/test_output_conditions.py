"""Conditions on upstream outputs in the function dialect (``@step(inputs=["score"],
when="score > threshold")``): the names of inputs read the producer's output, the others are
parameters. The flow ``tests/flows/conditions/gate.py`` goes through the front end, `stepc run`,
every target's validators and the engine runs the class dialect's switches go through
(Argo's `when` with `stepc exec`, a GitHub Actions workflow, a Valohai pipeline; Airflow's
`dags test` is in test_airflow). Mistakes are diagnostics at their place.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from stepc.backends.argo_lint import lint_documents

import stepc
from stepc.frontend.load import load
from stepc.runtime import entry
from stepc.runtime.store import Store
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import REPO
from tests.helpers import stepc as run_cli

FLOW = "tests/flows/conditions/gate.py"
SCORE = {"kind": "artifact", "step": "evaluate", "name": "score"}
DEPLOY_WHEN = {"kind": "compare", "op": ">", "left": SCORE, "right": {"kind": "param", "name": "threshold"}}

# parameters -> (the steps that run, the report `stepc run` leaves)
GATE_RUNS = [
    ({}, {"deploy", "announce"}, {"announcement": "deployed with score 0.8", "review": None}),
    ({"quality": 0.3}, {"review"}, {"announcement": None, "review": "needs a review: poor"}),
    ({"quality": 0.55, "threshold": 0.6}, set(), {"announcement": None, "review": None}),  # good, not good enough
]
BRANCHES = {"deploy", "announce", "review"}


def ir_steps(pipeline: str) -> dict[str, dict[str, Any]]:
    result = run_cli("ir", FLOW, "--pipeline", pipeline)
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["steps"]}


def test_names_of_inputs_read_the_producers_output_and_the_rest_are_parameters() -> None:
    steps = ir_steps("gate")
    assert steps["deploy"]["when"] == steps["deploy"]["condition"] == DEPLOY_WHEN
    assert steps["deploy"]["params"] == ["threshold"]
    assert steps["announce"]["condition"] == DEPLOY_WHEN  # skipped with deploy
    verdict = {"kind": "artifact", "step": "evaluate", "name": "verdict"}
    assert steps["review"]["when"] == {
        "kind": "compare",
        "op": "==",
        "left": verdict,
        "right": {"kind": "const", "value": "poor"},
    }
    assert steps["report"]["condition"] is None  # both inputs default to None: it merges
    items = ir_steps("items")
    size = {"kind": "artifact", "step": "measure", "name": "size"}
    assert items["grow"]["condition"] == {
        "kind": "compare",
        "op": ">",
        "left": size,
        "right": {"kind": "const", "value": 2},
    }
    assert items["settle"]["condition"] is None and items["collect"]["condition"] is None


@pytest.mark.parametrize(("params", "ran", "summary"), GATE_RUNS, ids=["deploy", "review", "neither"])
def test_stepc_run_skips_and_runs_by_the_value(
    params: dict[str, Any], ran: set[str], summary: dict[str, Any], tmp_path: Path
) -> None:
    result = stepc.run(FLOW, params=params, store=tmp_path / "store", pipeline="gate", quiet=True)
    assert result.ok, result.error
    statuses = {name: step.status for name, step in result.steps.items()}
    assert {n for n in BRANCHES if statuses[n] == "succeeded"} == ran
    assert {n for n in BRANCHES if statuses[n] == "skipped"} == BRANCHES - ran
    assert result.steps["report"].outputs["summary"] == summary


def test_stepc_run_of_the_cli_reports_the_skip(tmp_path: Path) -> None:
    result = run_cli("run", FLOW, "--pipeline", "gate", "-p", "quality=0.3", "--store", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"deploy: skipped", result.stdout) and re.search(r"review: succeeded", result.stdout)


def test_inside_a_foreach_each_item_decides(tmp_path: Path) -> None:
    result = stepc.run(FLOW, store=tmp_path / "store", pipeline="items", quiet=True)
    assert result.ok, result.error
    assert result.steps["grow"].outputs["grown"] == [30, 40]  # the items of size 3 and 4 only
    assert result.steps["collect"].outputs["total"] == [1, 30, 2, 40]


def test_a_value_of_the_wrong_type_at_run_time_fails_the_step_with_a_message(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        textwrap.dedent("""\
            from stepc import step

            @step(outputs=["score"])
            def evaluate():
                return "high"

            @step(inputs=["score"], when="score > 0.5")
            def deploy(score):
                return None
        """),
        encoding="utf-8",
    )
    result = run_cli("run", str(flow), "--store", str(tmp_path / "s"))
    assert result.returncode == 1
    assert "'>' not supported between instances of 'str' and 'float'" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- diagnostics --------------------------------------------------------------------------------

EVALUATE = """\
from stepc import step

@step(outputs=["model", "score"])
def evaluate(){returns}:
    return {{}}, 0.9
"""


def gate_flow(decorator: str, signature: str, returns: str = "") -> str:
    return EVALUATE.format(returns=returns) + f"\n@step({decorator})\ndef deploy({signature}):\n    return 1\n"


FOREACH = """\
from stepc import step

@step(outputs=["words"])
def make():
    return ["a", "bb"]

@step(inputs=["words"], outputs=["size"], foreach="words")
def measure(words):
    return len(words)
"""

DIAGNOSTICS = [
    (
        "typo-of-an-input",
        gate_flow('inputs=["score"], when="scor > 0.5"', "score"),
        "S111", "scor >", ("'scor' in the condition of step 'deploy' is not a pipeline parameter or", "mean 'score'?"),
    ),
    (
        "an-output-not-listed-in-inputs",
        gate_flow('inputs=["model"], when="score > 0.5"', "model"),
        "S111", "score >", ("it is an output of step 'evaluate', add it to inputs",),
    ),
    (
        "return-annotation",
        gate_flow('inputs=["score"], when="score == \'high\'"', "score", " -> tuple[dict, float]"),
        "S143", "score ==", ("compares 'score', a float output of step 'evaluate', with 'high'",),
    ),
    (
        "input-annotation",
        gate_flow('inputs=["score"], when="threshold < score and score > 0.5"', "score: str, threshold: float = 0.5"),
        "S143", "score and", ("'score', a str output of step 'evaluate', with 0.5",),
    ),
    (
        "bare-name-on-a-str-output",
        gate_flow('inputs=["score"], when="score"', "score", " -> tuple[dict, str]"),
        "S143", 'score")', ("'score' is a str output of step 'evaluate': a bare name in a condition tests a bool",),
    ),
    (
        "a-gathered-list",
        FOREACH + '\n@step(inputs=["size"], when="size > 1")\ndef total(size):\n    return sum(size)\n',
        "S110", "size > 1", ("reads 'size', the list of the results of foreach step 'measure'",),
    ),
    (
        "the-list-a-foreach-runs-over",
        FOREACH + '\n@step(inputs=["words"], foreach="words", when="words == \'a\'")\ndef each(words):\n'
        '    return words\n',
        "S110", "words ==", ("reads 'words', which this step runs over item by item",),
    ),
    (
        "a-gather-of-items-skipped-one-by-one",
        FOREACH + '\n@step(inputs=["size"], outputs=["big"], foreach="size", when="size > 1")\ndef grow(size):\n'
        '    return size\n\n@step(inputs=["big"])\ndef total(big):\n    return sum(big)\n',
        "S110", '"big"])', ("gathers 'big' from foreach step 'grow', whose condition skips items one by one",),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "code", "at", "says"), [c[1:] for c in DIAGNOSTICS], ids=[c[0] for c in DIAGNOSTICS]
)
def test_mistakes_are_diagnostics_at_their_place(
    source: str, code: str, at: str, says: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    result = run_cli("check", "flow.py", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    line_no, line = next((n, t) for n, t in enumerate(source.splitlines(), 1) if at in t)
    # at an input's string, or at a name inside the condition's text
    column = line.index(at) + 1 if at.endswith('"])') else line.index(at, line.index("when=")) + 1
    first = (result.stdout + result.stderr).splitlines()[0]
    assert first.startswith(f"flow.py:{line_no}:{column}: error[{code}]"), first
    for text in says:
        assert text in first, first


def test_a_condition_mixing_an_output_and_a_parameter_of_matching_types_passes(tmp_path: Path) -> None:
    source = gate_flow(
        'inputs=["score"], when="score > threshold or score == 1"', "score: float, threshold: float = 0.5"
    )
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    result = run_cli("check", "flow.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the targets ----------------------------------------------------------------------------------


def compiled(target: str, pipeline: str, tmp_path: Path) -> list[Path]:
    out = tmp_path / target / pipeline
    result = run_cli("compile", FLOW, "--target", target, "--pipeline", pipeline, "-o", str(out), "--strict")
    assert result.returncode == 0, result.stderr
    return sorted(p for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("pipeline", ["gate", "items"])
def test_every_target_accepts_it_and_passes_its_validators(pipeline: str, tmp_path: Path) -> None:
    from tests.test_gha import validate
    from tests.test_valohai import check_valohai

    (argo,) = compiled("argo", pipeline, tmp_path)
    text = argo.read_text(encoding="utf-8")
    assert lint_documents(text) == []
    (document,) = [d for d in yaml.safe_load_all(text) if d]
    for version in VERSIONS:
        assert validation_errors(document, version) == []
    validate(*compiled("gha", pipeline, tmp_path))
    (valohai,) = compiled("valohai", pipeline, tmp_path)
    check_valohai(valohai.read_text(encoding="utf-8"))
    (dag,) = compiled("airflow", pipeline, tmp_path)
    compile(dag.read_text(encoding="utf-8"), str(dag), "exec")  # Airflow imports it in test_airflow


def argo_gate(tmp_path: Path) -> dict[str, dict[str, Any]]:
    (argo,) = compiled("argo", "gate", tmp_path)
    (document,) = [d for d in yaml.safe_load_all(argo.read_text(encoding="utf-8")) if d]
    main = next(t for t in document["spec"]["templates"] if t["name"] == "main")
    return {t["name"]: t for t in main["dag"]["tasks"]}


def test_argo_skips_early_only_where_the_comparison_is_exact(tmp_path: Path) -> None:
    tasks = argo_gate(tmp_path)
    assert "value-evaluate-verdict" in tasks["review"]["when"]  # == 'poor': said exactly
    assert "when" not in tasks["deploy"]  # an output against a parameter: `stepc exec` decides


@pytest.mark.parametrize(("params", "ran", "summary"), GATE_RUNS, ids=["deploy", "review", "neither"])
def test_argo_run_decides_as_stepc_run_does(
    params: dict[str, Any], ran: set[str], summary: dict[str, Any], tmp_path: Path
) -> None:
    """A run as Argo does it: each task whose `when` holds on the values the tasks before it
    published runs `stepc exec`, which decides again; the others never start."""
    from tests.test_artifact_conditions import run_argo_when

    tasks = argo_gate(tmp_path)
    pipeline, _ = load(str(REPO / FLOW), "gate")
    assert pipeline is not None
    store, published, started = Store(tmp_path / "store"), {}, {}
    values = {"quality": 0.8, "threshold": 0.5, **params}
    for step in pipeline.steps:
        when = tasks[step.name].get("when")
        if when is not None and not run_argo_when(when, published):
            continue
        message, code = entry.exec_task(pipeline, str(REPO / FLOW), step.name, "r1", store, values)
        assert code == 0, message.get("error")
        started[step.name] = message["status"]
        entry.write_values_out(tmp_path / "values", pipeline, step, message)
        for file in (tmp_path / "values" / step.name).glob("*.txt"):
            published[(step.name, f"value-{step.name}-{file.stem}")] = file.read_text(encoding="ascii")
    assert {n for n, status in started.items() if status == "succeeded"} & BRANCHES == ran
    assert ("review" in started) == ("review" in ran)  # Argo did not start the review it skips
    report = store.read_result("r1", "report", None)
    assert report is not None and store.read_artifact(report.output("summary")) == summary


@pytest.mark.parametrize(("params", "ran", "summary"), GATE_RUNS, ids=["deploy", "review", "neither"])
def test_a_github_actions_run_leaves_what_stepc_run_leaves(
    params: dict[str, Any], ran: set[str], summary: dict[str, Any], tmp_path: Path
) -> None:
    from tests.test_gha_run import run_like_stepc_run

    found = run_like_stepc_run(FLOW, tmp_path, "gate", params)
    assert found["report"] == ("succeeded", {"summary": summary})
    assert {n for n in BRANCHES if found[n][0] == "succeeded"} == ran
    if "review" not in ran:
        assert found["review"][0] == "not_run"  # its `if:` read evaluate's job output: never started


def test_a_github_actions_run_decides_each_item(tmp_path: Path) -> None:
    from tests.test_gha_run import run_like_stepc_run

    found = run_like_stepc_run(FLOW, tmp_path, "items")
    assert found["grow"] == ("succeeded", {"grown": [30, 40]})
    assert found["collect"] == ("succeeded", {"total": [1, 30, 2, 40]})


@pytest.mark.parametrize(("params", "ran", "summary"), GATE_RUNS[:2], ids=["deploy", "review"])
def test_a_valohai_run_leaves_what_stepc_run_leaves(
    params: dict[str, Any], ran: set[str], summary: dict[str, Any], tmp_path: Path
) -> None:
    from tests.test_valohai_run import run_like_stepc_run

    found = run_like_stepc_run("conditions/gate.py", tmp_path, "gate", params)
    assert found["report"] == ("succeeded", {"summary": summary})
    assert {n for n in BRANCHES if found[n][0] == "succeeded"} == ran


def test_a_valohai_run_decides_each_item(tmp_path: Path) -> None:
    from tests.test_valohai_run import run_like_stepc_run

    found = run_like_stepc_run("conditions/gate.py", tmp_path, "items")
    assert found["grow"] == ("succeeded", {"grown": [30, 40]})
    assert found["collect"] == ("succeeded", {"total": [1, 30, 2, 40]})
