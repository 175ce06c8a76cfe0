"""A recursive switch (a switch case naming its own step): each pass is a task of its own that
sees what the pass before it set, under `stepc run` and `stepc exec --iteration N`; a loop
through other steps stays S107 and names its real cycle; engines refuse it with T101."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml
from stepc.backends.argo_lint import lint_documents

from stepc.frontend import load
from tests.argo_models import hera_errors, sdk_errors
from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import REPO, stepc

FLOW = REPO / "tests" / "flows" / "metaflow" / "recursive_switch.py"
EXPECTED = {"count": 3, "history": [10, 20, 30], "total": 60, "label": "from start", "case": "done"}


def _flow_copy(tmp_path: Path) -> Path:
    path = tmp_path / "recursive_switch.py"
    shutil.copy(FLOW, path)
    return path


def _artifact(tmp_path: Path, run_id: str, step: str, name: str) -> object:
    r = stepc("artifact", run_id, step, name, "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def test_the_ir_says_when_the_step_runs_again_and_its_successors_see_the_last_pass() -> None:
    pipeline, diagnostics = load(str(FLOW), None)
    assert pipeline is not None and not [d for d in diagnostics if d.severity == "error"], diagnostics
    loop = pipeline.step("loop")
    assert loop.repeat is not None and "again" in repr(loop.repeat)
    assert pipeline.upstream("loop") == ["start"]  # no edge from the step to itself
    assert "done" in repr(pipeline.step("after").condition)
    assert all(s.repeat is None for s in pipeline.steps if s.name != "loop")


def test_stepc_run_makes_one_task_per_pass(tmp_path: Path) -> None:
    flow = _flow_copy(tmp_path)
    r = stepc("run", str(flow), "--quiet", "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _artifact(tmp_path, "latest", "end", "summary") == EXPECTED
    run_dir = next((tmp_path / ".stepc" / "runs").iterdir())
    folders = sorted(p.name for p in run_dir.iterdir() if p.is_dir())
    assert folders == ["after", "end", "loop", "loop.1", "loop.2", "start"]
    # Each pass has its own log: what the step printed on that pass.
    assert [len(list((run_dir / d).glob("log.*.txt"))) for d in ("loop", "loop.1", "loop.2")] == [1, 1, 1]
    # `stepc logs` shows every pass's log, each under its header, or the pass --iteration names.
    shown = stepc("logs", "latest", "loop", "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert re.findall(r"── pass (\d) of step 'loop' ──", shown.stderr) == ["0", "1", "2"]
    assert shown.stderr.count("printed nothing") == 3  # the flow prints nothing
    one = stepc("logs", "latest", "loop", "--iteration", "2", "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert one.returncode == 0 and "── pass" not in one.stderr and "of step 'loop' pass 2 printed nothing" in one.stderr
    assert stepc("logs", "latest", "loop", "--iteration", "3", "--store", str(tmp_path / ".stepc")).returncode == 1


def test_a_pass_limit_of_one_leaves_at_once(tmp_path: Path) -> None:
    flow = _flow_copy(tmp_path)
    r = stepc("run", str(flow), "--quiet", "-p", "limit=1", "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = _artifact(tmp_path, "latest", "end", "summary")
    assert summary == {**EXPECTED, "count": 1, "history": [10], "total": 10}


def test_stepc_exec_runs_pass_after_pass_as_engines_would(tmp_path: Path) -> None:
    flow = _flow_copy(tmp_path)
    base = ("exec", str(flow), "--run-id", "r1", "--store", str(tmp_path / ".stepc"))

    def control(*args: str) -> tuple[int, dict[str, object]]:
        r = stepc(*base, *args, cwd=tmp_path)
        return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])

    assert control("--step", "start")[0] == 0
    chosen = [control("--step", "loop", "--iteration", str(n))[1].get("switch") for n in range(3)]
    assert chosen == ["again", "again", "done"]
    code, message = control("--step", "loop", "--iteration", "3")  # pass 2 left the loop
    assert code == 2 and "did not choose to loop" in str(message["error"])
    assert control("--step", "after")[0] == 0 and control("--step", "end")[0] == 0
    assert _artifact(tmp_path, "r1", "end", "summary") == EXPECTED
    r = stepc(*base, "--step", "after", "--iteration", "1", cwd=tmp_path)
    assert r.returncode == 2 and "--iteration is for one step whose switch goes back to itself" in r.stderr


def test_a_loop_through_another_step_is_s107_naming_it(tmp_path: Path) -> None:
    source = textwrap.dedent("""\
        from metaflow import FlowSpec, step


        class BackFlow(FlowSpec):
            @step
            def start(self):
                self.n = 0
                self.next(self.grow)

            @step
            def grow(self):
                self.n += 1
                self.next(self.decide)

            @step
            def decide(self):
                self.case = "again" if self.n < 3 else "done"
                self.next({"again": self.grow, "done": self.end}, condition="case")

            @step
            def end(self):
                pass
        """)
    flow = tmp_path / "back.py"
    flow.write_text(source)
    r = stepc("check", str(flow), cwd=tmp_path)
    assert r.returncode == 1
    line = source.splitlines().index("    def grow(self):") + 1
    said = r.stdout + r.stderr
    assert f"back.py:{line}:9: error[S107]: self.next calls form a cycle through steps grow -> decide -> grow" in said
    assert "may go back only to its own step" in said


def test_a_switch_whose_every_case_loops_never_ends(tmp_path: Path) -> None:
    source = textwrap.dedent("""\
        from metaflow import FlowSpec, step


        class ForeverFlow(FlowSpec):
            @step
            def start(self):
                self.case = "a"
                self.next(self.spin)

            @step
            def spin(self):
                self.next({"a": self.spin, "b": self.spin}, condition="case")

            @step
            def end(self):
                pass
        """)
    flow = tmp_path / "forever.py"
    flow.write_text(source)
    r = stepc("check", str(flow), cwd=tmp_path)
    assert r.returncode == 1
    said = r.stdout + r.stderr
    assert "error[S107]: every case of the switch in step 'spin' goes back to 'spin': it never ends" in said


def test_a_run_that_fails_mid_loop_resumes_from_the_first_pass(tmp_path: Path) -> None:
    # Pass 2 fails once (a marker file says so); the resume must not take pass 1's result, which
    # chose to loop, for the step's: it runs the loop again from its first pass.
    source = FLOW.read_text().replace(
        "        self.count += 1\n",
        "        self.count += 1\n"
        "        import pathlib\n"
        "        marker = pathlib.Path(__file__).with_name('failed-once')\n"
        "        if self.count == 2 and not marker.exists():\n"
        "            marker.touch()\n"
        "            raise RuntimeError('pass 2 fails once')\n",
    )
    flow = tmp_path / "recursive_switch.py"
    flow.write_text(source)
    store = str(tmp_path / ".stepc")
    first = stepc("run", str(flow), "--quiet", "--store", store, cwd=tmp_path)
    assert first.returncode == 1 and (tmp_path / "failed-once").exists(), first.stdout + first.stderr
    resumed = stepc("resume", "latest", "--quiet", "--store", store, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _artifact(tmp_path, "latest", "end", "summary") == EXPECTED


def _argo_document() -> dict[str, Any]:
    r = stepc("compile", str(FLOW), "--target", "argo", "-o", "-", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert lint_documents(r.stdout) == []
    (document,) = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
    for version in VERSIONS:
        assert validation_errors(document, version) == []
    assert sdk_errors(document) == [] and hera_errors(document) == []
    return document


def test_argo_runs_the_passes_through_a_dag_template_that_calls_itself(tmp_path: Path) -> None:
    """The workflow walked as Argo walks it: the main DAG's `loop` task calls `passes-loop` with
    iteration 0; that template runs the pod of one pass, then, when the value the pass published
    says so, calls itself with iteration + 1. Each pod runs its own command line here."""
    document = _argo_document()
    templates = {t["name"]: t for t in document["spec"]["templates"]}
    store, values = tmp_path / ".stepc", tmp_path / "values"
    passes: list[str] = []

    def run_container(template: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
        args = []
        for word in template["container"]["args"]:
            word = word.replace("{{workflow.name}}", "wf-1").replace("{{workflow.parameters.limit}}", "3")
            for name, value in inputs.items():
                word = word.replace("{{inputs.parameters." + name + "}}", value)
            args.append(word.replace("s3://stepc/store", str(store)).replace("/tmp/stepc/values", str(values)))
        assert "{{" not in " ".join(args), args
        r = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        passes.append(f"{template['name']}:{inputs.get('iteration', '')}")
        outputs = {}
        for out in template.get("outputs", {}).get("parameters", []):
            path = Path(str(out["valueFrom"]["path"]).replace("/tmp/stepc/values", str(values)))
            outputs[out["name"]] = path.read_text() if path.exists() else out["valueFrom"]["default"]
        return outputs

    def holds(when: str, outputs: dict[str, dict[str, str]]) -> bool:
        # The one form exact_when writes for a case: tasks["T"].outputs.parameters["P"] == "<text>"
        match = re.fullmatch(r'\{\{=tasks\["(\w+)"\]\.outputs\.parameters\["([\w-]+)"\] == (".*")\}\}', when)
        assert match is not None, when
        return outputs[match[1]][match[2]] == json.loads(match[3])

    def run_dag(name: str, inputs: dict[str, str]) -> None:
        outputs: dict[str, dict[str, str]] = {}
        for task in templates[name]["dag"]["tasks"]:  # listed in an order their depends allow
            args = {p["name"]: str(p["value"]) for p in task.get("arguments", {}).get("parameters", [])}
            args = {
                k: v.replace("{{inputs.parameters.iteration}}", inputs.get("iteration", "")) for k, v in args.items()
            }
            if args.get("iteration", "").startswith("{{=asInt("):
                args["iteration"] = str(int(inputs["iteration"]) + 1)
            if "when" in task and not holds(task["when"], outputs):
                continue
            template = templates[task["template"]]
            if "dag" in template:
                run_dag(task["template"], args)
            else:
                outputs[task["name"]] = run_container(template, args)

    run_dag(document["spec"]["entrypoint"], {})
    assert passes == ["start:", "loop:0", "loop:1", "loop:2", "after:", "end:"]
    assert _artifact(tmp_path, "wf-1", "end", "summary") == EXPECTED


def test_a_failure_after_the_loop_fails_the_run_cleanly(tmp_path: Path) -> None:
    flow = tmp_path / "recursive_switch.py"
    flow.write_text(FLOW.read_text().replace("self.total = sum(self.history)", "self.total = sum(self.history) / 0"))
    r = stepc("run", str(flow), "--quiet", "--store", str(tmp_path / ".stepc"), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    said = r.stdout + r.stderr
    assert "step 'after' failed: ZeroDivisionError" in said and "KeyError" not in said, said
