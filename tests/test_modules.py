"""Flows in several modules: steps imported from the project's own files, checked, run and
compiled from real project folders with the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.argo_schema import VERSIONS, validation_errors
from tests.helpers import stepc

STEPS = """\
from stepc import step

FACTOR = 3


@step(outputs=["rows"])
def load():
    return [1, 2, 3]


@step(inputs=["rows"], outputs=["cleaned"])
def clean(rows):
    return [r * FACTOR for r in rows]
"""

TOTAL = """\
@step(inputs=["cleaned"], outputs=["total"])
def total(cleaned):
    print("total is", sum(cleaned))
    return sum(cleaned)
"""


def project(root: Path, files: dict[str, str]) -> Path:
    """A project folder: a pyproject.toml and the given files (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def flow_with(imports: str, steps: str) -> str:
    return f"from stepc import pipeline, step\n{imports}\n\n{TOTAL}\n\npipeline('demo', steps=[{steps}])\n"


def ir_of(root: Path, flow: str) -> dict[str, object]:
    result = stepc("ir", flow, cwd=root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def steps_of(ir: dict[str, object]) -> dict[str, dict[str, object]]:
    steps = ir["steps"]
    assert isinstance(steps, list)
    return {s["name"]: s for s in steps}


def test_steps_from_a_sibling_module_check_run_and_compile(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {"steps.py": STEPS, "flow.py": flow_with("from steps import load, clean", "load, clean, total")}
    )
    check = stepc("check", "flow.py", "steps.py", cwd=root)
    assert check.returncode == 0, check.stderr
    assert check.stderr == ""
    steps = steps_of(ir_of(root, "flow.py"))
    assert steps["clean"]["function"] == "steps:clean"
    assert steps["clean"]["span"] == {"file": "steps.py", "line": 12, "col": 1, "end_line": 13, "end_col": 38}
    assert steps["total"]["function"] == "flow:total"
    run = stepc("run", "flow.py", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[total] total is 18" in run.stdout + run.stderr
    compiled = stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    workflow = next(d for d in yaml.safe_load_all(compiled.stdout) if d)
    for version in VERSIONS:
        assert validation_errors(workflow, version) == []
    assert "--step" in compiled.stdout and "clean" in compiled.stdout


def test_an_imported_step_hashes_its_own_module(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {"steps.py": STEPS, "flow.py": flow_with("from steps import load, clean", "load, clean, total")}
    )
    before = steps_of(ir_of(root, "flow.py"))
    (root / "steps.py").write_text(STEPS.replace("FACTOR = 3", "FACTOR = 4"), encoding="utf-8")
    after = steps_of(ir_of(root, "flow.py"))
    assert after["clean"]["code_hash"] != before["clean"]["code_hash"]  # reads FACTOR
    assert after["load"]["code_hash"] == before["load"]["code_hash"]
    assert after["total"]["code_hash"] == before["total"]["code_hash"]


def test_relative_imports_inside_a_package_run_under_stepc_run_and_exec(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "mypkg/__init__.py": "",
            "mypkg/helpers.py": "FACTOR = 2\n\n\ndef scale(x):\n    return x * FACTOR\n",
            "mypkg/steps.py": STEPS.replace("FACTOR = 3", "from .helpers import scale").replace(
                "r * FACTOR", "scale(r)"
            ),
            "mypkg/flow.py": flow_with("from .steps import load, clean", "load, clean, total"),
        },
    )
    steps = steps_of(ir_of(root, "mypkg/flow.py"))
    assert steps["clean"]["function"] == "mypkg.steps:clean"
    hashed = steps["clean"]["code_hash"]
    (root / "mypkg" / "helpers.py").write_text("FACTOR = 5\n\n\ndef scale(x):\n    return x * FACTOR\n")
    assert steps_of(ir_of(root, "mypkg/flow.py"))["clean"]["code_hash"] != hashed  # the helper two imports away
    run = stepc("run", "mypkg/flow.py", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[total] total is 30" in run.stdout + run.stderr
    # What every engine runs: one step per fresh process, from the project folder.
    store = f"file://{tmp_path / 'store'}"
    for name in ("load", "clean", "total"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "stepc",
                "exec",
                "mypkg/flow.py",
                "--step",
                name,
                "--run-id",
                "r1",
                "--store",
                store,
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    task = tmp_path / "store" / "runs" / "r1" / "total"
    assert json.loads((task / "result.json").read_text())["status"] == "succeeded"
    assert json.loads((task / "out.total.json").read_text()) == 30
    assert "total is 30" in (task / "log.1.txt").read_text()


def test_a_flow_in_a_subfolder_finds_a_package_at_the_project_root(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "shared/__init__.py": "",
            "shared/steps.py": STEPS,
            "flows/flow.py": flow_with("from shared.steps import load, clean", "load, clean, total"),
        },
    )
    assert steps_of(ir_of(root, "flows/flow.py"))["load"]["span"]["file"] == "shared/steps.py"
    run = stepc("run", "flow.py", cwd=root / "flows")  # from another working directory too
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[total] total is 18" in run.stdout + run.stderr


def test_steps_through_an_imported_module(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {"steps.py": STEPS, "flow.py": flow_with("import steps as s", "s.load, s.clean, total")}
    )
    steps = steps_of(ir_of(root, "flow.py"))
    assert [steps[n]["function"] for n in ("load", "clean", "total")] == ["steps:load", "steps:clean", "flow:total"]
    run = stepc("run", "flow.py", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[total] total is 18" in run.stdout + run.stderr
    (root / "flow.py").write_text(flow_with("import steps as s", "s.load, s.claen, total"), encoding="utf-8")
    check = stepc("check", "flow.py", cwd=root)
    assert check.returncode == 1
    assert "flow.py:10:33: error[S117]: module 'steps' has no step 'claen' (did you mean 'clean'?)" in check.stderr


def test_a_module_of_steps_passes_check_and_says_why_it_cannot_run_alone(tmp_path: Path) -> None:
    only = STEPS.replace('@step(outputs=["rows"])\ndef load():\n    return [1, 2, 3]\n', "")
    root = project(tmp_path / "p", {"steps.py": only})
    check = stepc("check", "steps.py", cwd=root)
    assert (check.returncode, check.stderr) == (0, "")
    run = stepc("run", "steps.py", cwd=root)
    assert run.returncode == 1
    assert "steps.py:8:15: error[S104]: input 'rows' of step 'clean' has no producer" in run.stderr
    # An input a step of the module nearly produces is a typo, not a module of steps.
    (root / "steps.py").write_text(STEPS.replace('inputs=["rows"]', 'inputs=["rowz"]'), encoding="utf-8")
    typo = stepc("check", "steps.py", cwd=root)
    assert typo.returncode == 1
    assert "error[S104]: input 'rowz' of step 'clean' has no producer (did you mean 'rows'?)" in typo.stderr


def test_a_problem_in_the_sibling_is_reported_at_its_own_place(tmp_path: Path) -> None:
    broken = STEPS.replace(
        '@step(inputs=["rows"], outputs=["cleaned"])', '@step(inputs=["rows"], outputs=["cleaned"], retry=-1)'
    )
    root = project(
        tmp_path / "p",
        {"steps.py": broken, "flow.py": flow_with("from steps import load, clean", "load, clean, total")},
    )
    check = stepc("check", "flow.py", cwd=root)
    assert check.returncode == 1
    assert check.stderr.startswith("steps.py:11:51: error[S114]: retry must not be negative (got -1)\n")
    both = stepc("check", ".", cwd=root)
    assert both.stderr.count("error[S114]") == 1  # found through the flow and in the module itself: once
    run = stepc("run", "flow.py", cwd=root)
    assert run.returncode == 1 and "steps.py:11:51: error[S114]" in run.stderr
    # An imported step's input without a producer points into its own file too.
    partial = project(
        tmp_path / "q", {"steps.py": STEPS, "flow.py": flow_with("from steps import clean", "clean, total")}
    )
    missing = stepc("check", "flow.py", cwd=partial)
    assert "steps.py:11:15: error[S104]: input 'rows' of step 'clean' has no producer" in missing.stderr


def test_missing_modules_and_names_are_reported_at_the_import(tmp_path: Path) -> None:
    flow = flow_with(
        "from steps import load, claen\nfrom stepz import fit\nfrom .other import helper",
        "load, fit, total",
    )
    root = project(tmp_path / "p", {"steps.py": STEPS, "flow.py": flow})
    check = stepc("check", "flow.py", cwd=root)
    assert check.returncode == 1
    # (and S104 for total's input: the steps that would produce it are missing)
    lines = [line for line in check.stderr.splitlines() if ": error[S150]" in line]
    assert lines == [
        "flow.py:2:25: error[S150]: module 'steps' (steps.py) has no name 'claen' (did you mean 'clean'?)",
        "flow.py:3:19: error[S150]: step 'fit' is imported from 'stepz': no module 'stepz' among the project's "
        "files (looked in 'p')",
        "flow.py:4:7: error[S150]: '.other' is a relative import, but flow.py is not in a package under the "
        "project root (a folder below the pyproject.toml, named like an identifier)",
    ]
    # A library's name is no step, and no error while nothing lists it as one.
    fine = flow_with("from steps import load, clean\nfrom json import dumps", "load, clean, total")
    (root / "flow.py").write_text(fine, encoding="utf-8")
    assert stepc("check", "flow.py", cwd=root).returncode == 0


def test_a_cyclic_import_is_read_once(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "a.py": """\
                from stepc import pipeline, step
                from b import second


                @step(outputs=["x"])
                def first():
                    return 1


                pipeline("cyc", steps=[first, second])
            """,
            "b.py": """\
                from stepc import step
                from a import first


                @step(inputs=["x"])
                def second(x):
                    return x
            """,
        },
    )
    check = stepc("check", "a.py", "b.py", cwd=root)  # the helper's timeout ends a hang as a failure
    assert (check.returncode, check.stderr) == (0, "")
    assert [s["function"] for s in steps_of(ir_of(root, "a.py")).values()] == ["a:first", "b:second"]


def test_a_target_warning_about_an_imported_step_points_into_its_module(tmp_path: Path) -> None:
    gpu = STEPS.replace('@step(outputs=["rows"])', '@step(outputs=["rows"], resources={"gpu": 1})')
    # No pipeline(): the steps imported by name join the module's implicit pipeline.
    implicit = "from stepc import step\nfrom steps import load, clean\n\n\n" + TOTAL
    project(tmp_path / "p", {"flows/steps.py": gpu, "flows/flow.py": implicit})
    compiled = stepc("compile", "p/flows/flow.py", "--target", "gha", "-o", "-", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    assert compiled.stderr.startswith("p/flows/steps.py:7:1: warning[T101]: step 'load' uses GPUs")
    assert "\n   7 | def load():\n" in compiled.stderr


def test_the_cache_of_an_imported_step_follows_its_module_in_a_long_lived_process(tmp_path: Path) -> None:
    import stepc as api

    cached = STEPS.replace('outputs=["cleaned"]', 'outputs=["cleaned"], cache="code_hash"')
    root = project(
        tmp_path / "p",
        {"shared/__init__.py": "", "shared/steps.py": cached, "flows/flow.py": flow_with(
            "from shared.steps import load, clean", "load, clean, total"
        )},
    )  # fmt: skip
    flow, store = str(root / "flows" / "flow.py"), tmp_path / "store"
    first = api.run(flow, store=store)
    assert first.ok and first["clean"].outputs["cleaned"] == [3, 6, 9] and not first["clean"].cached
    again = api.run(flow, store=store)
    assert again.ok and again["clean"].cached
    (root / "shared" / "steps.py").write_text(cached.replace("FACTOR = 3", "FACTOR = 10"), encoding="utf-8")
    edited = api.run(flow, store=store)  # the same process: the module is imported again as it is now
    assert edited.ok and not edited["clean"].cached
    assert edited["clean"].outputs["cleaned"] == [10, 20, 30] and edited["total"].outputs["total"] == 60


def test_a_def_replacing_an_imported_step_is_reported(tmp_path: Path) -> None:
    flow = flow_with("from steps import load, clean", "load, clean, total").replace(
        '\n\n@step(inputs=["cleaned"]',
        '\n\n@step(outputs=["cleaned"])\ndef clean():\n    return []\n\n\n@step(inputs=["cleaned"]',
        1,
    )
    root = project(tmp_path / "p", {"steps.py": STEPS, "flow.py": flow})
    check = stepc("check", "flow.py", cwd=root)
    assert check.returncode == 1
    assert (
        "flow.py:5:5: error[S138]: step function 'clean' is imported on line 2 too: this def replaces that step"
        in check.stderr
    )


def test_a_module_imported_from_its_package(tmp_path: Path) -> None:
    flow = flow_with("from shared import steps", "steps.load, steps.clean, total")
    root = project(tmp_path / "p", {"shared/__init__.py": "", "shared/steps.py": STEPS, "flow.py": flow})
    steps = steps_of(ir_of(root, "flow.py"))
    assert steps["clean"]["function"] == "shared.steps:clean"
    run = stepc("run", "flow.py", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[total] total is 18" in run.stdout + run.stderr


def test_a_star_import_binds_the_public_steps(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {"steps.py": STEPS, "flow.py": flow_with("from steps import *", "load, clean, total")}
    )
    assert [s["function"] for s in steps_of(ir_of(root, "flow.py")).values()] == [
        "steps:load",
        "steps:clean",
        "flow:total",
    ]
