"""How fast the front end is, next to the floor set by libcst itself.

    python bench/compile.py [--repeat N]

Prints, in one run:
  * for generated flows of 10, 100 and 1,000 steps: the bare ``libcst.parse_module`` time, the
    time to build the IR in-process (``stepc.frontend.load``: read, parse, check, assemble) and
    their ratio (bar: at most 3x for 1,000 steps);
  * as processes: ``stepc check`` on a one-step file next to ``python -c "import libcst"``
    (bar: at most 1.5x), and ``stepc check`` on 200 files in one process (bar: under 2 s);
  * the 1,000-step flow compiled to every target: in-process time per target next to the IR
    time, and ``stepc compile --target all`` as a process next to a process that only imports
    libcst and parses the file (bar: at most 5x).

Times are the best of ``--repeat`` runs: the least disturbed measurement of the same work.
Exit status 1 when a bar is missed, so that the script can gate a CI job if one wants it to.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import libcst

from stepc.frontend import load


def flow_source(steps: int) -> str:
    """A flow of ``steps`` steps in a chain with fan-in, parameters, foreach and conditions."""
    lines = ['"""A generated flow for the benchmark."""', "from stepc import pipeline, step", "", "SEED = 7", ""]
    for i in range(steps):
        inputs = [f"out{i - 1}"] if i else []
        if i >= 2 and i % 5 == 0:
            inputs.append(f"out{i - 2}")
        options = [f"outputs=['out{i}']", "retry=2", "timeout='5m'", "resources={'cpu': 1, 'memory': '1Gi'}"]
        if inputs:
            options.insert(0, f"inputs={inputs!r}")
        if i % 10 == 3:
            options.append("when=\"mode == 'full' and epochs > 1\"")
        if i % 10 == 7 and inputs:
            options.append(f"foreach={inputs[0]!r}")
        signature = [*inputs, "seed: int = SEED", "mode: str = 'full'", "epochs: int = 3"]
        lines += [
            f"@step({', '.join(options)})",
            f"def step_{i}({', '.join(signature)}):",
            f'    """Step {i} of the benchmark."""',
            "    values = [seed * j for j in range(epochs)]",
            "    return {'mode': mode, 'values': values}",
            "",
        ]
    lines.append(f"pipeline('bench-{steps}', steps=[{', '.join(f'step_{i}' for i in range(steps))}])")
    return "\n".join(lines) + "\n"


def parse_without_collector(text: str) -> None:
    gc.disable()
    try:
        libcst.parse_module(text)
    finally:
        gc.enable()


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()  # each run starts from the same heap: no collection owed by the previous one
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def stepc_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m stepc``."""
    script = Path(sys.executable).with_name("stepc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stepc"]


def process_env(workdir: Path) -> dict[str, str]:
    """The environment of the measured processes: bytecode cached, as in any real install.

    Under ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and CI images) stepc's modules
    would be compiled from source on every start while libcst's come precompiled from its
    wheel, which measures the sandbox rather than stepc. A private cache directory keeps the
    repository clean.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode not in (0, 1) or "Traceback" in result.stderr:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")


def compile_targets(workdir: Path, repeat: int, env: dict[str, str]) -> list[str]:
    """Code generation for every target of the 1,000-step flow; returns the bars missed."""
    from stepc.config import find_config
    from stepc.targets import available_targets, load_target

    path = workdir / "flow_1000.py"
    pipeline, _ = load(str(path))
    assert pipeline is not None
    config = find_config(workdir)
    build = best_of(repeat, partial(load, str(path)))
    print()
    print("Code generation for the 1,000-step flow (in-process), best of", repeat)
    print(f"  IR (stepc.frontend.load)       {build * 1000:8.1f} ms")
    for name in available_targets():
        backend = load_target(name)(config)
        generate = best_of(repeat, partial(backend.compile, pipeline))
        print(f"  {name:<30} {generate * 1000:8.1f} ms   (+{generate / build:.2f}x the IR)")
    out = workdir / "out"
    parse_only = [sys.executable, "-c", f"import libcst; libcst.parse_module(open({str(path)!r}).read())"]
    compile_all = [*stepc_command(), "compile", str(path), "--target", "all", "-o", str(out)]
    run(parse_only, env)
    run(compile_all, env)
    floor = best_of(repeat, lambda: run(parse_only, env))
    whole = best_of(repeat, lambda: run(compile_all, env))
    print(f"  process: import libcst + parse {floor * 1000:8.1f} ms")
    print(f"  process: stepc compile --target all {whole * 1000:8.1f} ms   ({whole / floor:.2f}x)")
    return [f"compile --target all is {whole / floor:.2f}x the libcst parse (bar: 5x)"] if whole / floor > 5 else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the best counts)")
    repeat = parser.parse_args().repeat
    workdir = Path(tempfile.mkdtemp(prefix="stepc-bench-"))
    missed: list[str] = []
    try:
        print("In-process: libcst parse vs IR (stepc.frontend.load), best of", repeat)
        # The front end pauses the cycle collector while it reads; the last column is the bare
        # parse under the same condition, so that the speed-up is not mistaken for free work.
        print(f"{'steps':>6} {'lines':>7} {'parse ms':>10} {'IR ms':>10} {'ratio':>7} {'parse, gc paused':>17}")
        for steps in (10, 100, 1000):
            path = workdir / f"flow_{steps}.py"
            text = flow_source(steps)
            path.write_text(text, encoding="utf-8")
            pipeline, diagnostics = load(str(path))
            assert pipeline is not None and len(pipeline.steps) == steps, [d.render_text() for d in diagnostics]
            parse = best_of(repeat, partial(libcst.parse_module, text))
            build = best_of(repeat, partial(load, str(path)))
            ratio = build / parse
            quiet = best_of(repeat, partial(parse_without_collector, text))
            print(
                f"{steps:>6} {text.count(chr(10)):>7} {parse * 1000:>10.1f} {build * 1000:>10.1f} {ratio:>6.2f}x"
                f" {quiet * 1000:>14.1f} ms"
            )
            if steps == 1000 and ratio > 3:
                missed.append(f"IR of 1,000 steps is {ratio:.2f}x the bare parse (bar: 3x)")

        one = workdir / "one.py"
        one.write_text(flow_source(1), encoding="utf-8")
        check = stepc_command()
        env = process_env(workdir)
        run([sys.executable, "-c", "import libcst"], env)  # warm the file-system and bytecode caches
        run([*check, "check", str(one)], env)
        floor = best_of(repeat, lambda: run([sys.executable, "-c", "import libcst"], env))
        single = best_of(repeat, lambda: run([*check, "check", str(one)], env))
        many_dir = workdir / "many"
        many_dir.mkdir()
        for i in range(200):
            (many_dir / f"flow_{i:03}.py").write_text(flow_source(5), encoding="utf-8")
        files = sorted(str(p) for p in many_dir.glob("*.py"))
        run([*check, "check", *files], env)
        many = best_of(repeat, lambda: run([*check, "check", *files], env))
        print()
        print("Processes (wall time), best of", repeat)
        print(f"  python -c 'import libcst'      {floor * 1000:8.1f} ms")
        print(f"  stepc check one.py             {single * 1000:8.1f} ms   ({single / floor:.2f}x the import)")
        print(f"  stepc check 200 files          {many * 1000:8.1f} ms")
        if single / floor > 1.5:
            missed.append(f"stepc check on one file is {single / floor:.2f}x the libcst import (bar: 1.5x)")
        if many > 2:
            missed.append(f"200 files took {many:.2f} s (bar: 2 s)")
        missed += compile_targets(workdir, repeat, env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("All bars met." if not missed else "Missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
