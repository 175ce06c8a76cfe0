"""A recursive switch (a switch case naming its own step): each pass is a task of its own that
sees what the pass before it set, under `stepc run` and `stepc exec --iteration N`; a loop
through other steps stays S107 and names its real cycle; engines refuse it with T101."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

from stepc.frontend import load
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
