"""What real Metaflow flows declare, read statically and run: parameters named otherwise than
their attribute, JSONType, separator=, IncludeFile, metaflow.current, @step(start/end=True).
(Results next to real Metaflow's are in test_metaflow_oracle.py; these are stepc's own rules.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import stepc
from stepc.frontend import read_file
from tests.helpers import stepc as stepc_cli

HEAD = "from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, current, step\nimport metaflow\n\n"
START_END = """
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def flow_with(tmp_path: Path, members: str, steps: str = START_END) -> Path:
    path = tmp_path / "flow.py"
    body = textwrap.indent(textwrap.dedent(members).strip("\n"), "    ")
    methods = textwrap.indent(textwrap.dedent(steps).strip("\n"), "    ")
    path.write_text(f"{HEAD}class F(FlowSpec):\n{body}\n\n{methods}\n", encoding="utf-8")
    return path


def place(path: Path, snippet: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    assert text.count(snippet) == 1, snippet
    index = text.index(snippet)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.mark.parametrize(
    ("member", "code", "at", "says"),
    [
        ("alpha = Parameter('alpha', default=lambda ctx: 1)", "S102", "lambda ctx: 1", "deploy-time default"),
        ("cfg = Parameter('cfg', type=JSONType, default='{bad')", "S122", "'{bad'", "is not JSON"),
        ("t = Parameter('tags', default='x')", "S137", "'tags'", "reserved word"),
        ("n = Parameter('n', default=1, separator=',')", "S122", "','", "str parameter only"),
        ("data = IncludeFile('data', default=3)", "S122", "3", "is a path"),
        ("data = IncludeFile('data', encoding='no-such-codec')", "S122", "'no-such-codec'", "unknown encoding"),
        ("n = Parameter('n', default=len('abc'))", "S121", "len('abc')", "give type="),
    ],
)
def test_bad_parameters_are_reported_at_their_place(tmp_path: Path, member: str, code: str, at: str, says: str) -> None:
    path = flow_with(tmp_path, member)
    result = read_file(str(path))
    hits = [d for d in result.diagnostics if d.code == code]
    assert hits and result.pipelines == (), result.diagnostics
    assert (hits[0].line, hits[0].col) == place(path, at)
    assert says in hits[0].message


def test_parameters_read_as_metaflow_reads_them(tmp_path: Path) -> None:
    path = flow_with(
        tmp_path,
        """
        animal = Parameter("creature", default="dog")
        cfg = Parameter("cfg", type=JSONType, default='{"a": [1, 2]}')
        many = Parameter("many", type=JSONType, default='[1, 2]')
        colors = Parameter("colors", default="red, green", separator=",")
        data = IncludeFile("data", default="d.txt", is_text=False)
        """,
        """
        @step
        def start(self):
            print(self.animal)
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
    )
    result = read_file(str(path))
    assert not result.diagnostics, result.diagnostics
    (pipeline,) = result.pipelines
    params = {p.name: p for p in pipeline.params}
    assert set(params) == {"creature", "cfg", "many", "colors", "data"}
    assert (params["cfg"].type, params["cfg"].default) == ("dict", {"a": (1, 2)})
    assert (params["many"].type, params["many"].default) == ("list", (1, 2))
    assert (params["colors"].type, params["colors"].item_type, params["colors"].separator) == ("list", "str", ",")
    assert params["colors"].default == ("red", " green")  # split as Metaflow splits, not stripped
    assert params["data"].file is not None and params["data"].file.is_text is False
    assert pipeline.step("start").params == ("cfg", "colors", "creature", "data", "many")


def test_unknown_current_fields_are_warnings_at_their_place(tmp_path: Path) -> None:
    path = flow_with(
        tmp_path,
        "",
        """
        @step
        def start(self):
            print(current.retry_count, current.run_idd, metaflow.current.graph, current.pathspec)
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
    )
    result = read_file(str(path))
    found = [(d.code, d.severity, d.line, d.col) for d in result.diagnostics]
    line, col = place(path, "run_idd")
    assert found == [("W204", "warning", line, col), ("W204", "warning", *place(path, "graph"))]
    assert "did you mean 'run_id'" in result.diagnostics[0].message
    assert len(result.pipelines) == 1


def test_two_steps_marked_start_are_reported(tmp_path: Path) -> None:
    path = flow_with(
        tmp_path,
        "",
        """
        @step(start=True)
        def a(self):
            self.next(self.b)

        @step(start=True)
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
    )
    result = read_file(str(path))
    hits = [d for d in result.diagnostics if d.code == "S130"]
    assert hits and (hits[0].line, hits[0].col) == place(path, "b(self)")


INCLUDE = """
    @step
    def start(self):
        self.content = self.data
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_include_file_content_is_the_value_and_p_chooses_another_file(tmp_path: Path) -> None:
    path = flow_with(tmp_path, 'data = IncludeFile("data", default="d.txt")', INCLUDE)
    (tmp_path / "d.txt").write_text("default content\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("other content\n", encoding="utf-8")
    run = stepc.run(path, params={"data": str(tmp_path / "d.txt")}, store=tmp_path / "s1")
    assert run.ok, run.error
    assert run["start"].outputs["content"] == "default content\n"
    # From the command line, the default is relative to where stepc starts.
    done = stepc_cli("run", "flow.py", "-p", "data=other.txt", "--store", "s2", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "latest", "start", "content", "--store", "s2", cwd=tmp_path)
    assert json.loads(shown.stdout) == "other content\n", shown.stderr
    # The run records the path it read (a resume reads the file again); its tasks got the content.
    (record,) = (tmp_path / "s2" / "runs").glob("*/run.json")
    assert json.loads(record.read_text(encoding="utf-8"))["params"] == {"data": "other.txt"}


def test_a_missing_include_file_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    flow_with(tmp_path, 'data = IncludeFile("data", default="missing.txt")', INCLUDE)
    done = stepc_cli("run", "flow.py", "--store", "s", cwd=tmp_path)
    assert done.returncode == 2
    assert "parameter 'data' names the file 'missing.txt', which cannot be read" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s" / "runs").exists() or not any((tmp_path / "s" / "runs").iterdir())


def test_stepc_exec_reads_the_file_itself_as_an_engine_task_does(tmp_path: Path) -> None:
    flow_with(tmp_path, 'data = IncludeFile("data", default="d.txt")', INCLUDE)
    (tmp_path / "d.txt").write_text("on the engine\n", encoding="utf-8")
    done = stepc_cli(
        "exec", "flow.py", "--step", "start", "--run-id", "r1", "--store", "s", "--params", '{"data": "d.txt"}',
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "r1", "start", "content", "--store", "s", cwd=tmp_path)
    assert json.loads(shown.stdout) == "on the engine\n"


COMPUTED = """
    @step
    def start(self):
        self.seen = [self.data, self.n, self.labels, self.cfg]
        self.next(self.end)

    @step
    def end(self):
        pass
"""
COMPUTED_MEMBERS = """
data = IncludeFile("data", default=here("d.txt"))
n = Parameter("n", type=int, default=str(2 + 1))
labels = Parameter("labels", type=str, default=",".join(["a", "b"]), separator=",")
cfg = Parameter("cfg", type=JSONType, default=json.dumps({"k": [1]}))
"""
HELPERS = "import json\nimport os\n\n\ndef here(name):\n    return os.path.join(os.path.dirname(__file__), name)\n\n\n"


def computed_flow(tmp_path: Path) -> Path:
    path = flow_with(tmp_path, COMPUTED_MEMBERS, COMPUTED)
    path.write_text(HELPERS + path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "d.txt").write_text("next to the flow\n", encoding="utf-8")
    return path


def test_computed_defaults_are_evaluated_in_the_flow_when_the_run_starts(tmp_path: Path) -> None:
    path = computed_flow(tmp_path)
    assert stepc_cli("check", str(path)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # a default relative to the flow's file, as Metaflow's tutorial 02 has
    done = stepc_cli("run", str(path), "--store", "s", "-q", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "latest", "start", "seen", "--store", "s", cwd=elsewhere)
    assert json.loads(shown.stdout) == ["next to the flow\n", 3, ["a", "b"], {"k": [1]}]
    # A value given wins, and the run records what it used (a resume uses it again).
    done = stepc_cli("run", str(path), "--store", "s2", "-q", "-p", "n=7", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    (record,) = (elsewhere / "s2" / "runs").glob("*/run.json")
    recorded = json.loads(record.read_text(encoding="utf-8"))["params"]
    assert recorded["n"] == 7 and recorded["data"] == str(tmp_path / "d.txt") and recorded["labels"] == ["a", "b"]


def test_an_engine_task_computes_a_default_left_unset(tmp_path: Path) -> None:
    computed_flow(tmp_path)
    compiled = stepc_cli("compile", "flow.py", "--target", "argo", "-o", "-", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    # Argo hands back an unset parameter as `null`: the task computes the default itself.
    done = stepc_cli(
        "exec", "flow.py", "--step", "start", "--run-id", "r1", "--store", "s",
        "-p", "data=null", "-p", "n=null", "-p", "labels=null", "-p", "cfg=null", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "r1", "start", "seen", "--store", "s", cwd=tmp_path)
    assert json.loads(shown.stdout) == ["next to the flow\n", 3, ["a", "b"], {"k": [1]}]


def test_a_default_that_raises_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = flow_with(tmp_path, "n = Parameter('n', type=int, default=int('x'))")
    done = stepc_cli("run", str(path), "--store", "s", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "the default int('x') of parameter 'n' cannot be computed: ValueError" in done.stderr
    assert "Traceback" not in done.stderr


CHANGED_IN_PLACE = """
    @step
    def start(self):
        self.table = {"a": [1, 2, 3], "b": [4]}
        self.seen = []
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.table[self.input] = self.table[self.input][:1]  # in place: no self.table = ...
        del self.table["b" if self.input == "a" else "a"]
        self.seen.append(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.tables = [i.table for i in inputs]
        self.seens = [i.seen for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_value_changed_in_place_is_what_the_next_steps_see(tmp_path: Path) -> None:
    path = flow_with(tmp_path, "", CHANGED_IN_PLACE)
    run = stepc.run(path, store=tmp_path / "s")
    assert run.ok, run.error
    assert run["join"].outputs["tables"] == [{"a": [1]}, {"b": [4]}]
    assert run["join"].outputs["seens"] == [["a"], ["b"]]


PROJECT_FLOW = """\
from metaflow import FlowSpec, current, project, step


@project(name="fraud")
class ScoreFlow(FlowSpec):
    @step
    def start(self):
        self.info = [current.project_name, current.branch_name, current.project_flow_name, current.is_production]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_project_names_deployments_and_current_as_metaflow_does(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(PROJECT_FLOW, encoding="utf-8")
    env = {**os.environ, "USER": "ada", "USERNAME": "ada"}
    env.pop("METAFLOW_USER", None)
    env.pop("STEPC_BRANCH", None)
    run = subprocess.run(
        [sys.executable, "-m", "stepc", "run", "flow.py", "--store", "s", "-q"], cwd=tmp_path, env=env, text=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    shown = stepc_cli("artifact", "latest", "start", "info", "--store", "s", cwd=tmp_path)
    # A local run is on Metaflow's default branch, user.<username>.
    assert json.loads(shown.stdout) == ["fraud", "user.ada", "fraud.user.ada.ScoreFlow", False]
    # An engine task (stepc exec) runs on the branch the compiled files deploy.
    done = subprocess.run(
        [sys.executable, "-m", "stepc", "exec", "flow.py", "--step", "start", "--run-id", "r1", "--store", "s"],
        cwd=tmp_path, env=env, text=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = stepc_cli("artifact", "r1", "start", "info", "--store", "s", cwd=tmp_path)
    assert json.loads(shown.stdout) == ["fraud", "prod", "fraud.prod.ScoreFlow", True]
    compiled = stepc_cli("compile", "flow.py", "--target", "all", "-o", "out", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    out = tmp_path / "out"
    assert "dag_id='fraud.prod.ScoreFlow'" in (out / "ScoreFlow_dag.py").read_text(encoding="utf-8")
    assert 'name: "fraud.prod.ScoreFlow"' in (out / ".github" / "workflows" / "ScoreFlow.yml").read_text(
        encoding="utf-8"
    )
    assert 'name: "fraud.prod.ScoreFlow"' in (out / "ScoreFlow.valohai.yaml").read_text(encoding="utf-8")
    assert 'generateName: "fraud-prod-scoreflow-"' in (out / "ScoreFlow.argo.yaml").read_text(encoding="utf-8")
    # [tool.stepc] branch deploys on prod.<branch>.
    (tmp_path / "stepc.toml").write_text('branch = "canary"\n', encoding="utf-8")
    compiled = stepc_cli("compile", "flow.py", "--target", "airflow", "-o", "out2", cwd=tmp_path)
    assert "dag_id='fraud.prod.canary.ScoreFlow'" in (tmp_path / "out2" / "ScoreFlow_dag.py").read_text(
        encoding="utf-8"
    )
