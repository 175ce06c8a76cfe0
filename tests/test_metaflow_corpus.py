"""Real public Metaflow flows (tests/flows/metaflow/corpus/sources.toml) under Metaflow and stepc.

Each case runs one flow, verbatim as its authors wrote it, with Metaflow itself (the oracle's
set-up: local datastore and metadata in a temp dir, a throwaway HOME, no network) and with
``stepc run``, and compares:

* the outcome: both succeed, or both fail at the same step (``fails_at`` in the manifest);
* the steps that ran, the tasks of each (foreach items) and the attempts each task took;
* every artifact the end step can see: Metaflow's end task holds all of them (its own and those
  propagated to it). stepc's end stores only what it sets, so an artifact end did not set is
  looked up where Metaflow would have propagated it from: walking back from end through the
  steps that ran, stopping at a join (a join propagates nothing it does not set or merge).
  Parameters (and IncludeFile/Config) are left out: stepc records them as run inputs, not as
  step outputs; the flows that use one copy it into an artifact or print it;
* the printed lines of each step as a multiset of (step, line): Metaflow's task logs (stdout and
  stderr of every attempt, from its datastore), stepc's live ``[step]`` / ``[step/item]`` lines.
  Engine chatter is dropped on both sides: tracebacks (they name engine frames), Metaflow's
  ``<flow X step y> failed:``, ``Task failed.``, ``[KILLED BY ORCHESTRATOR]``, ``Step y timed
  out after ...`` and ``@catch caught ...`` reports, stepc's ``stepc: ...`` notes.

``stepc check`` must also accept every flow. A case stepc gets wrong is marked below with
xfail(strict=True, reason=<the precise cause>), never skipped: fixing the cause turns it into a
failure and the mark must go.

Runs use PYTHONHASHSEED=0 (or the case's ``hash_seed``) so that a flow iterating a set of
strings (tutorial 02) is deterministic under both engines. Metaflow's local runtime orders a
static join's ``inputs`` by iterating a set of the parent steps' names, so that order changes
with the hash seed (``test_metaflow_join_order_follows_the_hash_seed`` shows it); stepc gives
the ``self.next`` order. A flow whose result shows that order runs under a seed where Metaflow's
order is the ``self.next`` one.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import stepc
from tests.test_metaflow_oracle import RUN_TIMEOUT, _failed_steps, _tasks, metaflow_env

try:
    import metaflow
except ImportError:  # pragma: no cover - the dev extra installs it
    if os.environ.get("CI"):
        raise  # CI must have the oracle: a collection error, not a skip
    pytest.skip("Metaflow is not installed (pip install -e '.[dev]')", allow_module_level=True)

CORPUS = Path(__file__).resolve().parent / "flows" / "metaflow" / "corpus"
MANIFEST = CORPUS / "sources.toml"
# Where registry-sourced flows are unpacked: outside the tree, kept between runs.
SDIST_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stepc" / "metaflow-corpus"
PARALLEL = 4
pytestmark = pytest.mark.xdist_group("metaflow_corpus")

# Cases stepc gets wrong: case id -> the cause, as precisely as known. Each is an xfail(strict=True).
XFAIL: dict[str, str] = {}
# Files `stepc check` rejects: file -> the diagnostic.
CHECK_XFAIL: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    repo: str
    path_in_repo: str
    sha256: str
    params: tuple[tuple[str, str], ...] = ()
    fails_at: str | None = None
    commit: str | None = None
    hash_seed: int = 0  # PYTHONHASHSEED of both runs
    embedded: str | None = None  # a flow the module at path writes: _write_flow(tmp_path, NAME, SOURCE)
    in_flow_folder: bool = False  # both engines run from the flow's folder (cwd = "flow"), not a temp dir

    @property
    def sdist(self) -> str | None:
        """The registry sdist the flow comes from ("name==version"), or None."""
        return self.repo.removeprefix("pypi:") if self.repo.startswith("pypi:") and "==" in self.repo else None

    @property
    def path(self) -> Path:
        if self.repo == "pypi:metaflow":  # shipped in the metaflow wheel: nothing copied here
            return Path(metaflow.__file__).resolve().parent.parent / self.file
        if self.sdist is not None:
            root = SDIST_CACHE / self.sdist.replace("==", "-")
            return root / "embedded" / self.embedded if self.embedded else root / self.path_in_repo
        return CORPUS / self.file

    def cli_params(self) -> list[tuple[str, str]]:
        return [(k, v.replace("{corpus}", str(CORPUS))) for k, v in self.params]


def load_manifest() -> list[Case]:
    data = tomllib.loads(MANIFEST.read_text())
    return [
        Case(
            f["id"],
            f["file"],
            f["repo"],
            f["path"],
            f["sha256"],
            tuple((k, str(v)) for k, v in f.get("params", {}).items()),
            f.get("fails_at"),
            f.get("commit"),
            f.get("hash_seed", 0),
            f.get("embedded"),
            f.get("cwd") == "flow",
        )
        for f in data["flow"]
    ]


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    sha256: str

    @property
    def root(self) -> Path:
        return SDIST_CACHE / f"{self.name}-{self.version}"


CASES = load_manifest()
FILES = sorted({c.file for c in CASES})
SDISTS = [Sdist(s["name"], s["version"], s["sha256"]) for s in tomllib.loads(MANIFEST.read_text())["sdist"]]


def embedded_flows(module: Path) -> dict[str, str]:
    """The flows a test module writes as ``_write_flow(tmp_path, "name.py", \"\"\"source\"\"\")``
    (metaflow-kestra's tests do): file name -> source, dedented as that helper does."""
    found = {}
    for call in ast.walk(ast.parse(module.read_text())):
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "_write_flow" and len(call.args) == 3:
            name, source = call.args[1:]
            if isinstance(name, ast.Constant) and isinstance(source, ast.Constant):
                found[name.value] = textwrap.dedent(source.value)
    return found


def fetch_sdist(sdist: Sdist) -> None:
    """Download the sdist with pip (hash-pinned), unpack it and write out the flows its test
    modules embed, then move the folder into the cache in one rename (so a concurrent run never
    sees half of it). Done once: a cached folder is reused."""
    if (sdist.root / ".complete").is_file():
        return
    sdist.root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=sdist.root.parent) as tmp:
        requirement = Path(tmp) / "requirements.txt"
        requirement.write_text(f"{sdist.name}=={sdist.version} --hash=sha256:{sdist.sha256}\n")
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        pip += ["--require-hashes", "-r", str(requirement), "-d", tmp]
        subprocess.run(pip, check=True, capture_output=True, text=True, timeout=600)
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "unpacked", filter="data")
        (top,) = (Path(tmp) / "unpacked").iterdir()
        for module in {c.path_in_repo for c in CASES if c.sdist == f"{sdist.name}=={sdist.version}" and c.embedded}:
            (top / "embedded").mkdir(exist_ok=True)
            for name, source in embedded_flows(top / module).items():
                (top / "embedded" / name).write_text(source)
        (top / ".complete").touch()
        shutil.rmtree(sdist.root, ignore_errors=True)  # an incomplete folder of an older layout
        try:
            top.rename(sdist.root)
        except OSError:
            if not (sdist.root / ".complete").is_file():  # not another run's finished copy
                raise


@dataclass
class Outcome:
    returncode: int
    log: str
    end: dict[str, Any] | None = None  # the artifacts the end step sees, canonical
    tasks: dict[str, list[int]] | None = None
    failed: list[str] = field(default_factory=list)
    lines: Counter[tuple[str, str]] = field(default_factory=Counter)


# --- canonical values: both engines' artifacts compare, whatever their types -----------------


def canon(value: Any) -> Any:
    """Plain data with every scalar tagged by its type; exceptions (Metaflow's wrapper, stepc's
    wrapper or a bare exception) as (class name, message); arrays as (dtype, list); any other
    object as its class name (a fitted model compares by what it is, not by identity)."""
    if isinstance(value, BaseException) and hasattr(value, "type") and hasattr(value, "exception"):
        return ("<exception>", str(value.type).rsplit(".", 1)[-1], str(value.exception))
    if isinstance(value, BaseException):
        return ("<exception>", type(value).__qualname__, str(value))
    if value is None or type(value) in (bool, int, float, str, bytes, complex):
        return (type(value).__name__, value)
    if type(value) is dict:
        return ("dict", sorted((repr(k), canon(v)) for k, v in value.items()))
    if type(value) in (list, tuple):
        return (type(value).__name__, [canon(v) for v in value])
    if type(value) in (set, frozenset):
        return (type(value).__name__, sorted((canon(v) for v in value), key=repr))
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return ("<array>", str(value.dtype), canon(value.tolist()))
    return ("<object>", type(value).__module__ + "." + type(value).__qualname__)


# --- printed lines --------------------------------------------------------------------------

_MFLOG = re.compile(r"^\[MFLOG\|[^\]]*\]")
_STEPC_LINE = re.compile(r"^\[([^\]/\s]+)(?:/[0-9/]+)?\] ?(.*)$")
# Metaflow's own lines in a task's log: a failed attempt, a task killed when another failed.
_MF_CHATTER = ("Task failed.", "[KILLED BY ORCHESTRATOR]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")
# Metaflow's @timeout report, in the killed task's log (stepc's is a "stepc: " note).
_MF_TIMED_OUT = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ )?Step \w+ timed out after \d+ hours, \d+ minutes, \d+ seconds$"
)


def user_lines(lines: list[str]) -> list[str]:
    """The lines a step printed, without tracebacks and engine reports (see the module doc)."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith(">"):  # Metaflow's @catch report quotes the traceback with '>  '
            i += 1
            continue
        if line.startswith("<flow ") and line.endswith(" failed:"):  # Metaflow's failure report
            i += 1
            while i < len(lines) and lines[i].startswith((" ", "\t")):
                i += 1
            continue
        if line == "Traceback (most recent call last):":
            i += 1
            while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i].strip()):
                i += 1
            if i < len(lines) and _EXCEPTION_LINE.match(lines[i].rstrip()):
                i += 1  # the exception line closing the traceback
            continue
        if (
            line.startswith(("@catch caught an exception from ", "stepc: "))
            or line in _MF_CHATTER
            or _MF_TIMED_OUT.match(line)
        ):
            i += 1
            continue
        if line.strip():
            kept.append(line)
        i += 1
    return kept


def metaflow_lines(datastore: Path, flow: str, run_id: str) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    run_dir = datastore / ".metaflow" / flow / run_id
    for log in sorted(run_dir.glob("*/*/*.runtime_std*.log")):
        step = log.parent.parent.name
        raw = [_MFLOG.sub("", line) for line in log.read_text(errors="replace").splitlines()]
        found.update((step, line) for line in user_lines(raw))
    return found


def stepc_lines(stdout: str) -> Counter[tuple[str, str]]:
    """stepc's live output, grouped by task so a traceback is cut out of one task's lines."""
    by_task: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        m = _STEPC_LINE.match(line)
        if m:
            by_task.setdefault(line[: line.index("]")], []).append(m.group(2))
    found: Counter[tuple[str, str]] = Counter()
    for task, lines in by_task.items():
        step = task[1:].split("/")[0]
        found.update((step, line) for line in user_lines(lines))
    return found


# --- what a flow file declares ------------------------------------------------------------


def flow_facts(path: Path) -> tuple[str, set[str], set[str], dict[str, set[str]]]:
    """What the flow's source says, read with ast as Metaflow's graph parser reads it: (the
    FlowSpec subclass, its parameter-like attributes, its join steps, each step's successors)."""
    tree = ast.parse(path.read_text())
    classes = [
        n
        for n in tree.body
        if isinstance(n, ast.ClassDef) and any(ast.unparse(b).endswith("FlowSpec") for b in n.bases)
    ]
    assert classes, f"no FlowSpec subclass in {path}"
    cls = classes[-1]
    params, joins, successors = set(), set(), {}
    for node in cls.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).split(".")[-1] in ("Parameter", "IncludeFile", "Config")
        ):
            params.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if isinstance(node, ast.FunctionDef) and any("step" in ast.unparse(d) for d in node.decorator_list):
            if len(node.args.args) >= 2:
                joins.add(node.name)
            successors[node.name] = {
                target.attr
                for call in ast.walk(node)
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "self.next"
                for arg in call.args
                for target in ast.walk(arg)
                if isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self"
            }
    return cls.name, params, joins, successors


# --- Metaflow -------------------------------------------------------------------------------

_READER = (
    "from __future__ import annotations\n"
    + inspect.getsource(canon)
    + """
import pickle, sys
from metaflow import Run, namespace
namespace(None)
flow, run_id, out = sys.argv[1:4]
run = Run(flow + "/" + run_id)
steps = {s.id: s for s in run}
try:
    end_task = run.end_task
except Exception:
    end_task = None
end = None
if end_task is not None and run.successful:
    end = {a.id: canon(a.data) for a in end_task.artifacts if not a.id.startswith("_") and a.id != "name"}
tasks = {name: sorted(t.current_attempt + 1 for t in s) for name, s in steps.items()}
failed = sorted({name for name, s in steps.items() for t in s if not t.successful})
with open(out, "wb") as f:
    pickle.dump({"successful": run.successful, "end": end, "tasks": tasks, "failed": failed}, f)
"""
)


def run_metaflow(case: Case, root: Path) -> Outcome:
    root.mkdir(parents=True)
    env = {**metaflow_env(root), "PYTHONHASHSEED": str(case.hash_seed)}
    flow, params, _, _ = flow_facts(case.path)
    run_id_file = root / "run-id"
    cmd = [sys.executable, str(case.path), "--no-pylint", "--quiet", "--datastore=local", "--metadata=local", "run"]
    cmd += ["--run-id-file", str(run_id_file), "--max-workers", "4"]
    for name, value in case.cli_params():
        cmd += [f"--{name}", value]
    cwd = case.path.parent if case.in_flow_folder else root
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    log = f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    if not run_id_file.exists():
        return Outcome(proc.returncode or 1, log)
    run_id = run_id_file.read_text().strip()
    out = root / "artifacts.pkl"
    read = subprocess.run(
        [sys.executable, "-c", _READER, flow, run_id, str(out)],
        cwd=case.path.parent,  # a pickled value may name a class of the flow's module
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if read.returncode != 0:
        return Outcome(read.returncode, f"{log}\nreading the run failed:\n{read.stderr}")
    with open(out, "rb") as f:
        data = pickle.load(f)
    lines = metaflow_lines(root / "datastore", flow, run_id)
    ok = proc.returncode == 0 and data["successful"]
    end = {k: v for k, v in data["end"].items() if k not in params} if ok and data["end"] is not None else None
    return Outcome(0 if ok else proc.returncode or 1, log, end, data["tasks"], data["failed"], lines)


# --- stepc ----------------------------------------------------------------------------------


def run_stepc(case: Case, root: Path) -> Outcome:
    from stepc.runtime.store import Store

    root.mkdir(parents=True)
    store = root / "store"
    args = ["run", str(case.path), "--store", str(store)]
    for name, value in case.cli_params():
        args += ["-p", f"{name}={value}"]
    # The environment Metaflow's run has (throwaway HOME, user name): a flow asking who runs it
    # (get_namespace()) gets the same answer.
    env = {**metaflow_env(root), "PYTHONHASHSEED": str(case.hash_seed), "COLUMNS": "200"}
    cwd = case.path.parent if case.in_flow_folder else root
    proc = subprocess.run(
        [sys.executable, "-m", "stepc", *args], cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env
    )
    log = f"$ stepc {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    lines = stepc_lines(proc.stdout)
    runs = sorted(p.name for p in (store / "runs").iterdir() if p.is_dir()) if (store / "runs").is_dir() else []
    if not runs:
        return Outcome(proc.returncode or 1, log, lines=lines)
    assert len(runs) == 1, f"one run expected in a fresh store, found {runs}"
    run_id = runs[0]
    the_store = Store(store)
    tasks = _tasks(the_store, run_id)
    if proc.returncode != 0:
        return Outcome(proc.returncode, log, tasks=tasks, failed=_failed_steps(the_store, run_id), lines=lines)
    if str(case.path.parent) not in sys.path:
        sys.path.insert(0, str(case.path.parent))
    end = _visible_at_end(the_store, run_id, *flow_facts(case.path)[1:])
    return Outcome(0, log, end, tasks, lines=lines)


def _visible_at_end(
    the_store: Any, run_id: str, params: set[str], joins: set[str], successors: dict[str, set[str]]
) -> dict[str, Any]:
    """Every artifact Metaflow's end task would hold, from stepc's store (see the module doc):
    the first value found walking back from end through the steps that ran, up to a join."""
    (end,) = [name for name, after in successors.items() if not after]
    seen: dict[str, Any] = {}
    cur: str | None = end
    while cur is not None:
        results = [r for r in the_store.committed(run_id, cur) if r.status != "skipped"]
        if len(results) != 1:
            break
        for meta in results[0].outputs:
            if meta.name not in seen and meta.name not in params:
                try:
                    seen[meta.name] = canon(the_store.read_artifact(meta))
                except Exception as exc:  # stored, but not loadable: a mismatch, not a crash
                    seen[meta.name] = ("<unreadable>", f"{type(exc).__name__}: {exc}")
        if cur in joins:
            break
        ran = [p for p, after in successors.items() if cur in after and _ran(the_store, run_id, p)]
        cur = ran[0] if len(ran) == 1 else None
    return seen


def _ran(the_store: Any, run_id: str, step: str) -> bool:
    return any(r.status != "skipped" for r in the_store.committed(run_id, step))


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def sdist_errors() -> dict[str, str]:
    """Fetch every registry sdist of the manifest before any case looks for its flow file:
    name -> why the download failed (its cases then skip, test_corpus_files_are_present fails)."""
    errors = {}
    for sdist in SDISTS:
        try:
            fetch_sdist(sdist)
        except (subprocess.SubprocessError, OSError, ValueError) as exc:
            detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else ""
            errors[f"{sdist.name}=={sdist.version}"] = f"{exc}\n{detail}"
    return errors


@pytest.fixture(scope="session")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    base = tmp_path_factory.mktemp("corpus")
    present = [c for c in CASES if c.path.is_file()]
    engines = {"metaflow": run_metaflow, "stepc": run_stepc}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {
            (engine, c.id): pool.submit(runner, c, base / engine / c.id)
            for engine, runner in engines.items()
            for c in present
        }
        return {key: f.result() for key, f in futures.items()}


@pytest.fixture(scope="session")
def corpus_checks() -> dict[str, Outcome]:
    """`stepc check` of every flow file, in parallel (apart from the runs: `-k check` is quick)."""
    one_per_file = {c.file: c for c in CASES if c.path.is_file()}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {file: pool.submit(_check, c) for file, c in one_per_file.items()}
        return {file: f.result() for file, f in futures.items()}


def _check(case: Case) -> Outcome:
    r = stepc("check", str(case.path))
    return Outcome(r.returncode, r.stdout + r.stderr)


def _params(selected: list[Case], xfail: dict[str, str], key: Any) -> list[Any]:
    return [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=xfail[key(c)])] if key(c) in xfail else [],
        )
        for c in selected
    ]


def _require(case: Case) -> None:
    # A missing flow (a copy kept out of git, or a registry download that failed) is counted by
    # test_corpus_files_are_present.
    if not case.path.is_file():
        pytest.skip(f"{case.path} is missing (see SOURCES.md)")


# --- tests ----------------------------------------------------------------------------------


def test_metaflow_join_order_follows_the_hash_seed(tmp_path: Path) -> None:
    """Why a case may set ``hash_seed``: Metaflow's order of a static join's inputs is not the
    flow's but a set's, so two Metaflow runs of one flow differ by the hash seed alone."""
    case = next(c for c in CASES if c.hash_seed != 0)
    _require(case)
    lines = {}
    for seed in (0, case.hash_seed):
        outcome = run_metaflow(replace(case, hash_seed=seed), tmp_path / str(seed))
        assert outcome.returncode == 0, outcome.log
        lines[seed] = sorted(line for step, line in outcome.lines if step == "end")
    assert lines[0] != lines[case.hash_seed], lines


def test_manifest_is_consistent() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert set(XFAIL) <= set(ids) and set(CHECK_XFAIL) <= set(FILES)
    for case in CASES:
        if case.path.is_file() and case.repo != "pypi:metaflow":  # a wheel's copy may be newer
            assert hashlib.sha256(case.path.read_bytes()).hexdigest() == case.sha256, f"{case.file} was edited"


def test_corpus_files_are_present(sdist_errors: dict[str, str]) -> None:
    """Three kinds of source: the tutorials come with Metaflow itself, the registry-sourced flows
    are downloaded from PyPI by the test (both run everywhere, CI included, and must be there);
    the copies taken from repository snapshots are third-party code kept out of git (SOURCES.md
    says why; sources.toml pins each by commit and sha256), and where they are absent their
    cases skip."""
    assert not sdist_errors, f"registry downloads failed: {sdist_errors}"
    everywhere = [c for c in CASES if c.repo.startswith("pypi:")]
    assert len(everywhere) >= 25, "the corpus that runs everywhere has at least 25 flows"
    absent = [str(c.path) for c in everywhere if not c.path.is_file()]
    assert not absent, f"registry-sourced or tutorial flows missing: {absent}"
    missing = sorted({c.file for c in CASES if not c.path.is_file()})
    present = [c for c in CASES if c.path.is_file()]
    if missing:
        pytest.skip(f"{len(missing)} third-party corpus flows are not in this checkout ({len(present)} are)")


@pytest.mark.parametrize("case", _params(CASES, XFAIL, lambda c: c.id))
def test_corpus_flow_matches_metaflow(case: Case, corpus_results: dict[tuple[str, str], Outcome]) -> None:
    _require(case)
    mf, sc = corpus_results["metaflow", case.id], corpus_results["stepc", case.id]
    if case.fails_at is None:
        assert mf.returncode == 0 and mf.end is not None, f"the Metaflow run failed:\n{mf.log}"
        assert sc.returncode == 0 and sc.end is not None, f"the stepc run failed:\n{sc.log}"
    else:
        assert mf.returncode != 0 and mf.failed == [case.fails_at], f"Metaflow did not fail as expected:\n{mf.log}"
        assert sc.returncode != 0, f"stepc ran a flow Metaflow fails at {case.fails_at!r}:\n{sc.log}"
        assert sc.failed == mf.failed, sc.log
    assert sc.tasks == mf.tasks, "steps, tasks or attempts differ"
    if case.fails_at is None:
        assert sc.end == mf.end, "the artifacts end sees differ"
    only_mf, only_sc = mf.lines - sc.lines, sc.lines - mf.lines
    assert not only_mf and not only_sc, f"printed lines differ: Metaflow only {only_mf}, stepc only {only_sc}"


@pytest.mark.parametrize(
    "file",
    [
        pytest.param(f, marks=[pytest.mark.xfail(strict=True, reason=CHECK_XFAIL[f])] if f in CHECK_XFAIL else [])
        for f in FILES
    ],
)
def test_stepc_check_accepts_corpus_flow(file: str, corpus_checks: dict[str, Outcome]) -> None:
    _require(next(c for c in CASES if c.file == file))
    r = corpus_checks[file]
    assert r.returncode == 0, r.log
    assert "W202" not in r.log, r.log  # W202: the flow class was passed over, not read
