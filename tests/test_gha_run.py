"""Run a generated GitHub Actions workflow locally, job by job in `needs` order, the way a runner
would: `if:` guards, matrix legs, env, the `run:` scripts themselves (bash and python), job and
step outputs, and artifacts (upload/download replaced by copying the named store paths). The
store the jobs leave behind must hold the same results as `stepc run`."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from stepc.backends.gha_lint import load_workflow
from stepc.backends.plan import loop_of

import stepc
from stepc.runtime.store import Store
from tests.helpers import GOLDEN, REPO

WORKFLOWS = GOLDEN / "compiled" / ".github" / "workflows"
RUN_ID = "4242"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
GLOB_CHARS = re.compile(r"[*?\[]")


TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\].,])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


class Expression:
    """A recursive-descent reader of GitHub expressions: literals, contexts, `.x` and `['x']`,
    function calls, `!`, comparisons (strings ignoring case, as GitHub does), `&&`, `||`."""

    def __init__(self, text: str, context: dict[str, Any], functions: dict[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = TOKEN.match(text, pos)
            assert m and m.end() > pos, f"cannot read {text[pos:]!r}"
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.context = context
        self.functions = functions

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.i]
        assert expected is None or token[1] == expected, (token, expected)
        self.i += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        assert self.i == len(self.tokens), self.tokens[self.i :]
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            right = self.both()
            value = value or right
        return value

    def both(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.take()
            right = self.compare()
            value = value and right
        return value

    def compare(self) -> Any:
        left = self.unary()
        op = self.peek()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            a, b = loose(left), loose(self.unary())
            if isinstance(a, str) and isinstance(b, str):
                a, b = a.casefold(), b.casefold()
            elif isinstance(a, str) != isinstance(b, str):
                a, b = number(a), number(b)
            return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.either()
            self.take(")")
        elif kind == "num":
            value = json.loads(text)
        elif kind == "str":
            value = text[1:-1].replace("''", "'")
        elif text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[text]
        elif self.peek() == "(":
            self.take("(")
            args = []
            while self.peek() != ")":
                args.append(self.either())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            value = self.functions[text](*args)
        else:
            value = self.context[text]
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key: Any = self.take()[1]
            else:
                key = self.either()
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value


def expand_braces(pattern: str) -> list[str]:
    """minimatch's brace expansion (as bash's): ``a{b,c}d`` -> ``abd``, ``acd``; a brace pair
    without a comma at its top level stays literal."""
    depth, start = 0, 0
    for i, c in enumerate(pattern):
        if c == "{":
            start = i if depth == 0 else start
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth:
                continue
            parts, level, begin = [], 0, start + 1
            for j in range(start + 1, i):
                level += {"{": 1, "}": -1}.get(pattern[j], 0)
                if pattern[j] == "," and level == 0:
                    parts.append(pattern[begin:j])
                    begin = j + 1
            parts.append(pattern[begin:i])
            head, tail = pattern[:start], pattern[i + 1 :]
            if len(parts) == 1:
                return [pattern[: i + 1] + rest for rest in expand_braces(tail)]
            return [found for part in parts for found in expand_braces(head + part + tail)]
    return [pattern]


def loose(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def number(value: Any) -> float:
    if value is None:
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def exec_supports(flag: str) -> bool:
    """Whether `stepc exec` already takes ``flag`` (the exec contract is being extended)."""
    out = subprocess.run([sys.executable, "-m", "stepc", "exec", "--help"], capture_output=True, text=True).stdout
    return flag in out


class Runner:
    """A small GitHub Actions runner: enough of the expression language for what stepc emits."""

    def __init__(self, workflow: dict[str, Any], checkout: Path, work: Path, inputs: dict[str, Any]) -> None:
        self.jobs: dict[str, Any] = workflow["jobs"]
        self.checkout = checkout
        self.work = work
        self.inputs = inputs
        self.results: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, str] = {}  # job id -> what its scripts printed
        self.lock = threading.Lock()
        self.artifacts: dict[str, Path] = {}
        self.downloads: dict[str, set[str]] = {}  # job id -> the artifacts it downloaded
        self.present: dict[str, set[str]] = {}  # job id -> the artifacts there when it downloaded
        self.retry = exec_supports("--retry")

    # -- expressions ------------------------------------------------------------------------

    def value(self, expr: str, ctx: dict[str, Any], job_id: str | None = None) -> Any:
        """Evaluate a GitHub expression (the subset stepc writes, with GitHub's loose rules)."""
        needs = {name: {"result": r["result"], "outputs": r["outputs"]} for name, r in self.results.items()}
        context = {
            "github": {"run_id": RUN_ID},
            "inputs": self.inputs,
            "matrix": {"item": ctx.get("matrix")},
            "needs": needs,
            "steps": {k: {"outputs": v} for k, v in ctx.get("steps", {}).items()},
        }
        before = [self.results[n]["result"] for n in self.closure(job_id)] if job_id else []
        functions = {
            "fromJSON": json.loads,
            "toJSON": lambda v: json.dumps(v),
            "success": lambda: all(r == "success" for r in before),
            "failure": lambda: any(r == "failure" for r in before),
            "cancelled": lambda: False,
            "always": lambda: True,
        }
        return Expression(expr, context, functions).parse()

    def condition(self, expr: str, job_id: str) -> bool:
        return bool(self.value(expr, {}, job_id))

    def render(self, text: Any, ctx: dict[str, Any]) -> Any:
        if not isinstance(text, str):
            return text
        whole = EXPR.fullmatch(text)
        if whole:
            return self.value(whole.group(1), ctx)
        return EXPR.sub(lambda m: str(self.value(m.group(1), ctx)), text)

    def closure(self, job_id: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.jobs[job_id].get("needs", []))
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += self.jobs[name].get("needs", [])
        return seen

    # -- jobs -------------------------------------------------------------------------------

    def run(self) -> None:
        while len(self.results) < len(self.jobs):
            ready = [
                j
                for j in self.jobs
                if j not in self.results and set(self.jobs[j].get("needs", [])) <= set(self.results)
            ]
            assert ready, "jobs wait on each other"
            for job_id in ready:
                self.results[job_id] = self.run_job(job_id)

    def run_job(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        guard = job.get("if", "${{ success() }}")
        inner = EXPR.fullmatch(guard)
        if not self.condition(inner.group(1) if inner else guard, job_id):
            return {"result": "skipped", "outputs": {}}
        matrix = (job.get("strategy") or {}).get("matrix", {}).get("item")
        legs = self.render(matrix, {}) if matrix is not None else [None]
        assert isinstance(legs, list) and legs, f"{job_id}: a matrix needs items"
        outputs: dict[str, Any] = {}
        failed = False
        with ThreadPoolExecutor(len(legs)) as pool:
            done = list(pool.map(lambda n: self.run_leg(job_id, job, legs[n], n), range(len(legs))))
        for leg, (ok, steps) in zip(legs, done, strict=True):
            failed = failed or not ok
            ctx = {"matrix": leg, "steps": steps}
            outputs = {k: self.render(v, ctx) for k, v in (job.get("outputs") or {}).items()}
        return {"result": "failure" if failed else "success", "outputs": outputs}

    def run_leg(
        self, job_id: str, job: dict[str, Any], leg: Any, number: int
    ) -> tuple[bool, dict[str, dict[str, str]]]:
        workspace = self.work / job_id / f"leg-{number}"  # a leg may be an object: name its runner by number
        shutil.copytree(self.checkout, workspace)
        temp = workspace.parent / f"leg-{number}.temp"
        temp.mkdir()
        ctx: dict[str, Any] = {"matrix": leg, "steps": {}}
        env = {k: str(self.render(v, ctx)) for k, v in (job.get("env") or {}).items()}
        ok = True
        for step in job["steps"]:
            guard = step.get("if")
            if guard == "${{ !cancelled() }}":
                pass  # runs after a failure too
            elif not ok:
                continue
            uses = step.get("uses", "")
            if uses.startswith(("actions/checkout@", "actions/setup-python@")) or step.get("name") == "Install":
                continue  # the checkout is a copy; the venv already has the project
            if uses.startswith("actions/download-artifact@"):
                self.download(job_id, step["with"], workspace, ctx)
            elif uses.startswith("actions/upload-artifact@"):
                self.upload(step["with"], workspace, ctx)
            else:
                ok = self.run_script(job_id, step, env, workspace, temp, ctx) and ok
        return ok, ctx["steps"]

    def run_script(
        self, job_id: str, step: dict[str, Any], env: dict[str, str], workspace: Path, temp: Path, ctx: dict[str, Any]
    ) -> bool:
        step_env = {k: str(self.render(v, ctx)) for k, v in (step.get("env") or {}).items()}
        if not self.retry:
            step_env.pop("STEPC_RETRY", None)  # stepc exec has no --retry yet; nothing here fails
        output = temp / f"output.{step.get('id', 'x')}"
        output.write_text("")
        full = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            **env,
            **step_env,
            "RUNNER_TEMP": str(temp),
            "GITHUB_OUTPUT": str(output),
        }
        script = temp / "script"
        script.write_text(step["run"])
        shell = step.get("shell", "bash")
        argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        if shell == "python":
            argv = [sys.executable, str(script)]
        done = subprocess.run(argv, cwd=workspace, env=full, capture_output=True, text=True, timeout=120)
        with self.lock:
            self.logs[job_id] = self.logs.get(job_id, "") + done.stdout + done.stderr
        if "id" in step:
            pairs = (line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            ctx["steps"][step["id"]] = dict(pairs)
        return done.returncode == 0

    def download(self, job_id: str, spec: dict[str, Any], workspace: Path, ctx: dict[str, Any]) -> None:
        """download-artifact with a `pattern`: the artifacts whose names minimatch matches
        (braces expanded, then globs), merged into one folder. Only what the pattern names
        arrives: a job gets no file it did not ask for."""
        assert spec.get("merge-multiple") is True
        patterns = expand_braces(self.render(spec["pattern"], ctx))
        target = workspace / self.render(spec["path"], ctx)
        with self.lock:
            uploaded = sorted(self.artifacts.items())
            self.present.setdefault(job_id, set()).update(self.artifacts)
        for name, folder in uploaded:
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                shutil.copytree(folder, target, dirs_exist_ok=True)
                with self.lock:
                    self.downloads.setdefault(job_id, set()).add(name)

    def upload(self, spec: dict[str, Any], workspace: Path, ctx: dict[str, Any]) -> None:
        name = self.render(spec["name"], ctx)
        lines = [self.render(line, ctx) for line in str(spec["path"]).splitlines() if line.strip()]
        roots = []
        for line in lines:
            parts = line.split("/")
            cut = next((i for i, p in enumerate(parts) if GLOB_CHARS.search(p)), len(parts))
            roots.append(parts[:cut])
        root = os.path.commonprefix(roots)  # the least common ancestor of the search paths
        target = self.work / "artifacts" / name
        assert spec.get("overwrite") or not target.exists(), f"artifact {name} uploaded twice"
        for line in lines:
            for match in sorted(workspace.glob(line)):
                files = [match] if match.is_file() else [p for p in match.rglob("*") if p.is_file()]
                for file in files:
                    relative = file.relative_to(workspace / "/".join(root))
                    (target / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, target / relative)
        self.artifacts[name] = target


def stored(pipeline: Any, store: Store, run_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Step -> (status, outputs) as the store has them; a foreach step's outputs are item lists
    (of the items that ran: inside a foreach, an item may skip a case of a switch)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for step in pipeline.steps:
        if not step.scope:
            result = store.read_result(run_id, step.name, None)
            if result is None or result.status != "succeeded":
                found[step.name] = (result.status if result else "not_run", {})
                continue
            found[step.name] = ("succeeded", {m.name: store.read_artifact(m) for m in result.outputs})
            continue
        results = [r for r in store.committed(run_id, step.name) if r.item is not None]
        if not results and empty_fan_out(pipeline, step, store, run_id):
            found[step.name] = ("succeeded", {name: [] for name in step.outputs})
            continue
        ran = [r for r in results if r.status == "succeeded"]
        if not ran or any(r.status not in ("succeeded", "skipped") for r in results):
            status = next((r.status for r in results if r.status != "succeeded"), "not_run")
            found[step.name] = (status, {})
            continue
        outputs = {name: [store.read_artifact(r.output(name)) for r in ran] for name in step.outputs}
        found[step.name] = ("succeeded", outputs)
    return found


def empty_fan_out(pipeline: Any, step: Any, store: Store, run_id: str) -> bool:
    """A foreach step over an upstream list that came out empty ran zero items: it succeeded."""
    loop = loop_of(pipeline, step)
    if loop is None or loop.producer is None:
        return False
    result = store.read_result(run_id, loop.producer, None)
    return result is not None and result.status == "succeeded" and result.counts.get(loop.name) == 0


def reference(
    flow: Path, params: dict[str, Any], tmp: Path, pipeline: str | None = None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """What `stepc run` makes of the same flow and parameters."""
    result = stepc.run(str(flow), params=params, store=tmp / "reference-store", pipeline=pipeline)
    assert result.ok, result.error
    out = {}
    for name, step in result.steps.items():
        out[name] = ("succeeded", step.outputs) if step.status == "succeeded" else ("skipped", {})
    return out


def checkout(tmp: Path, files: dict[str, Path] | None = None) -> Path:
    """A temporary checkout: the flows at the paths the workflows name (relative to the repo)."""
    root = tmp / "checkout"
    root.mkdir(parents=True)
    if files is None:
        files = {f"golden/{flow.name}": flow for flow in GOLDEN.glob("*.py")}
    for relative, source in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, root / relative)
    return root


VOLATILE = {("publish", "published"), ("verify", "summary")}  # a temporary file's path


def comparable(found: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Succeeded steps with their outputs; a step that did not succeed is just "skipped" (the
    interpreter records no result for a step it skipped, `stepc exec` records one)."""
    return {
        step: ("succeeded", {k: v for k, v in outputs.items() if (step, k) not in VOLATILE})
        if status == "succeeded"
        else ("skipped", {})
        for step, (status, outputs) in found.items()
    }


def run_workflow(
    name: str, flow: str, inputs: dict[str, Any], tmp: Path, text: str | None = None, pipeline: str | None = None
) -> tuple[Runner, Any]:
    """Run a golden workflow (or ``text``, a workflow compiled from ``flow``) and read the store."""
    from stepc.frontend import load

    workflow = load_workflow(text if text is not None else (WORKFLOWS / name).read_text(encoding="utf-8"))
    runner = Runner(workflow, checkout(tmp, None if text is None else {flow: REPO / flow}), tmp / "work", inputs)
    runner.run()
    store_root = tmp / "final-store"
    for folder in runner.artifacts.values():
        shutil.copytree(folder, store_root / "runs", dirs_exist_ok=True)
    ir, _ = load(str(REPO / flow), pipeline)
    return runner, stored(ir, Store(store_root), RUN_ID)


CASES = [
    ("etl-branches.yml", "golden/etl_branches.py", {}, {}),
    # dispatch inputs as GitHub types them: lists as JSON text, numbers and booleans typed
    (
        "etl-branches.yml",
        "golden/etl_branches.py",
        {"mode": "quick", "sample_every": 3, "batch_size": 40},
        {"mode": "quick", "sample_every": 3, "batch_size": 40},
    ),
    (
        "feature-tour.yml",
        "golden/features.py",
        {"publish": False, "regions": '["eu", "us", "apac"]', "n_shards": 2},
        {"publish": False, "regions": ["eu", "us", "apac"], "n_shards": 2},
    ),
    # the class dialect: a Metaflow flow (split, merge_artifacts, foreach, switch), a chain per item
    ("ModelSelectionFlow.yml", "golden/model_selection.py", {"threshold": "0.1"}, {"threshold": 0.1}),
    ("ChainFlow.yml", "golden/foreach_chain.py", {}, {}),
    # conditions on upstream outputs: released (accuracy over the bar), or a ticket instead
    ("gated-release.yml", "golden/gated_release.py", {}, {}),
    ("gated-release.yml", "golden/gated_release.py", {"noise": "1.5"}, {"noise": 1.5}),
]


@pytest.mark.parametrize(("name", "flow", "inputs", "params"), CASES, ids=lambda v: str(v)[:40])
def test_jobs_leave_the_artifacts_stepc_run_leaves(
    name: str, flow: str, inputs: dict[str, Any], params: dict[str, Any], tmp_path: Path
) -> None:
    runner, found = run_workflow(name, flow, inputs, tmp_path)
    assert all(r["result"] != "failure" for r in runner.results.values()), runner.logs
    assert comparable(found) == comparable(reference(REPO / flow, params, tmp_path))


def test_an_empty_fan_out_is_skipped_and_the_join_still_runs(tmp_path: Path) -> None:
    runner, found = run_workflow("feature-tour.yml", "golden/features.py", {"n_shards": 0}, tmp_path)
    assert comparable(found) == comparable(reference(REPO / "golden/features.py", {"n_shards": 0}, tmp_path))
    assert runner.results["count"]["result"] == "skipped"
    assert runner.results["double"]["result"] == "skipped"
    assert runner.results["total"]["result"] == "success"
    assert found["total"] == ("succeeded", {"total": 0})
    assert "stepc-rollback" in runner.jobs and runner.results["stepc-rollback"]["result"] == "skipped"


SWITCH = "tests/flows/conditions/switch.py"


@pytest.mark.parametrize(("choice", "fail_fit"), [("train", False), ("report", False), ("train", True)])
def test_a_switch_on_a_computed_value_skips_the_branch_not_taken(tmp_path: Path, choice: str, fail_fit: bool) -> None:
    """The branch's `if:` reads the value route's job published: GitHub skips the branch not
    taken before it starts; end merges `result` from whichever ran (fit's @catch keeps a failed
    fit from failing the run: end then sees no result)."""
    compiled = subprocess.run(
        [sys.executable, "-m", "stepc", "compile", SWITCH, "--target", "gha", "-o", "-"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    inputs = {"choice": choice, "fail_fit": fail_fit}
    runner, found = run_workflow("", SWITCH, inputs, tmp_path, text=compiled.stdout)
    assert all(r["result"] != "failure" for r in runner.results.values()), runner.logs
    expected = reference(REPO / SWITCH, inputs, tmp_path)
    for results in (found, expected):  # an exception compares by identity: compare its text
        if "fit_error" in results.get("fit", ("", {}))[1]:
            results["fit"][1]["fit_error"] = repr(results["fit"][1]["fit_error"])
    assert comparable(found) == comparable(expected)
    taken, other = ("fit", "describe") if choice == "train" else ("describe", "fit")
    assert runner.results[other]["result"] == "skipped" and found[other][0] == "not_run"  # exec never ran
    assert runner.results[taken]["result"] == runner.results["end"]["result"] == "success"
    assert runner.results["route"]["outputs"]["value-route-mode"] == json.dumps(choice)
    result = None if fail_fit else (2.0 if choice == "train" else 3)
    assert found["end"][1]["summary"] == {"mode": choice, "result": result}


def run_like_stepc_run(
    flow: str, tmp_path: Path, pipeline: str | None = None, inputs: dict[str, Any] | None = None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Compile ``flow`` with no T101, run the workflow, and check it leaves what `stepc run` leaves."""
    chosen = ["--pipeline", pipeline] if pipeline else []
    compiled = subprocess.run(
        [sys.executable, "-m", "stepc", "compile", flow, "--target", "gha", "-o", "-", *chosen],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert compiled.returncode == 0 and "T101" not in compiled.stderr, compiled.stderr
    runner, found = run_workflow("", flow, inputs or {}, tmp_path, text=compiled.stdout, pipeline=pipeline)
    assert all(r["result"] != "failure" for r in runner.results.values()), runner.logs
    assert comparable(found) == comparable(reference(REPO / flow, inputs or {}, tmp_path, pipeline))
    return found


def test_branches_inside_a_foreach_run_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("tests/flows/metaflow/foreach_split.py", tmp_path)
    assert found["end"][1]["summary"] == {"pairs": [(6, 1), (13, 1), (18, 1)], "bases": [3, 6, 8]}


def test_a_switch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    # Each item takes its own case: the jobs carry no `if:` of their own, `stepc exec` skips
    # the case an item did not take.
    found = run_like_stepc_run("tests/flows/metaflow/foreach_switch.py", tmp_path)
    assert found["shrink"] == ("succeeded", {"result": [4, 5]})  # items 1 and 3 only
    rows = [(0, "small", 9), (1, "big", 4), (2, "small", 3), (3, "big", 5)]
    assert [tuple(r) for r in found["end"][1]["summary"]["rows"]] == rows


# Nested foreach: a lister job publishes the index paths its tasks' matrices run over.
NESTED_TABLE = [("g0", [20, 41]), ("g1", [60]), ("g2", [80, 101, 122])]  # scale 2


def test_a_nested_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("tests/flows/metaflow/nested_foreach.py", tmp_path, inputs={"scale": 2})
    assert found["inner"][1]["value"] == [20, 41, 60, 80, 101, 122]  # one leg per index path, in order
    assert [(label, values) for label, values in found["end"][1]["summary"]["table"]] == NESTED_TABLE


def test_a_foreach_inside_a_branch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("tests/flows/metaflow/foreach_branch_foreach.py", tmp_path)
    assert len(found["letter"][1]["code"]) == 5  # "ab" and "cde": five legs of the inner matrix


def test_the_function_dialects_nested_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("tests/flows/scopes/functions.py", tmp_path, "nested", {"scale": 2})
    assert [tuple(row) for row in found["nest_end"][1]["summary"]["table"]] == NESTED_TABLE


def test_the_function_dialects_foreach_inside_a_branch_inside_a_foreach_runs_as_stepc_run_does(tmp_path: Path) -> None:
    found = run_like_stepc_run("tests/flows/scopes/functions.py", tmp_path, "branch_foreach")
    assert [size for size, _ in found["bf_end"][1]["summary"]["entries"]] == [200, 301]


@pytest.mark.parametrize(
    ("name", "flow", "inputs"),
    [("feature-tour.yml", "golden/features.py", {}), ("ModelSelectionFlow.yml", "golden/model_selection.py", {})],
)
def test_each_job_downloads_only_ancestors_results_that_it_reads(
    name: str, flow: str, inputs: dict[str, Any], tmp_path: Path
) -> None:
    """The runs above match `stepc run` with these downloads, so what each job reads is enough;
    here, no job got an upload of a job it does not descend from, although such jobs had
    uploaded too, and the rollback job got everything."""
    runner, _ = run_workflow(name, flow, inputs, tmp_path)
    assert all(r["result"] != "failure" for r in runner.results.values()), runner.logs
    left_out = set()
    for job_id, present in runner.present.items():
        ancestors = runner.closure(job_id)
        got = runner.downloads.get(job_id, set())
        if job_id == "stepc-rollback":
            assert got == present
            continue
        assert got <= {a for a in present if a.split(".")[1] in ancestors}, job_id
        left_out |= present - got
    assert left_out, "some job ran after a job it does not descend from: the filter left that one out"
    for job_id, job in runner.jobs.items():  # a job with no ancestor but the parameters job downloads nothing
        if set(job.get("needs", [])) <= {"stepc-params"}:
            assert not any("download-artifact" in s.get("uses", "") for s in job["steps"]), job_id
