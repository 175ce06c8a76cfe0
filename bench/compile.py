"""How fast stepc compiles, next to the floor set by ``libcst.parse_module`` of the same file.

    python bench/compile.py [--sizes 100,1000,10000] [--shapes chain,...] [--targets argo,...]
                            [--repeat N] [--doubling 1000] [--no-startup]

Flow files of four shapes (``bench/flows.py``: chain, independent, conditions, scopes) are
generated at each size. Every measurement is a fresh process, so that its peak RSS
(``ru_maxrss`` of that one child, from ``os.wait4``) is its own:

* ``parse``: the bare ``libcst.parse_module`` of the file (the floor);
* ``ir``: ``stepc.frontend.load`` (read, parse, check, assemble);
* one row per target: the front end plus that backend's ``compile`` (generation and the
  target's lint), which is what ``stepc compile --target T`` does before writing;
* ``all``: the command ``stepc compile FILE --target all -o DIR`` as a whole process
  (imports and writing included), the 60 s / 1.5 GB bar.

Times are CPU seconds (user + system; the machine is shared, and wall time under load measures
the other processes): inside the child around the work only for the in-process rows (imports
excluded), from the child's rusage for ``all`` (imports included); wall time is shown beside.
``x parse`` is the row's time over the parse time; ``x2`` is the doubling ratio
time(2N) / time(N), measured for each N given to ``--doubling`` (2N is generated and timed
too). Times are the best of ``--repeat`` runs (the least disturbed), RSS the largest.

Bars (issue 12): at 1,000 steps every target is at most 5x the parse for every shape; doubling
costs at most 2.2x (stepc's rows: the bare parse's own ratio is shown, not barred); 10,000
steps compile to all targets in under 60 s and 1.5 GB. Unless
``--no-startup``, the older start-up bars are checked too: ``stepc check`` of one file at most
1.5x ``python -c "import libcst"``, and 200 files checked in one process in under 2 s.
Exit status 1 when a bar is missed.
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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flows import SHAPES, chain_source  # noqa: E402

TARGETS = ("argo", "airflow", "gha", "valohai")
TIME_BAR = 5.0
DOUBLING_BAR = 2.2
ALL_SECONDS_BAR = 60.0
ALL_BYTES_BAR = 1.5 * 2**30


# --- the measured child ------------------------------------------------------------------


def work(kind: str, path: str) -> tuple[float, float]:
    """Run one measured piece of work in this process; its CPU and wall time in seconds."""
    if kind == "parse":
        import libcst

        text = Path(path).read_text(encoding="utf-8")
        start = time.process_time(), time.perf_counter()
        libcst.parse_module(text)
        return time.process_time() - start[0], time.perf_counter() - start[1]
    from stepc.config import find_config
    from stepc.frontend import load
    from stepc.targets import load_target

    backend = None
    if kind != "ir":
        backend = load_target(kind)(find_config(Path(path).parent))
    start = time.process_time(), time.perf_counter()
    pipeline, diagnostics = load(path)
    if pipeline is None:
        raise SystemExit("\n".join(d.render_text() for d in diagnostics))
    if backend is not None:
        _, problems = backend.compile(pipeline)
        errors = [p.render_text() for p in problems if p.severity == "error"]
        if errors:
            raise SystemExit("\n".join(errors))
    return time.process_time() - start[0], time.perf_counter() - start[1]


# --- the parent ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float  # CPU time (user + system): what the work costs, whatever else the machine runs
    wall: float
    rss: int  # bytes


def measure(command: list[str], env: dict[str, str], timed_inside: bool) -> Run:
    """One fresh process: the work's times as the child measured them, or the whole process's
    (CPU from its rusage, imports included), and its peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0 or "Traceback" in stderr:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-4000:]}")
    if timed_inside:
        cpu, wall = (float(x) for x in stdout.split()[-2:])
    else:
        cpu = usage.ru_utime + usage.ru_stime
    return Run(cpu, wall, usage.ru_maxrss * 1024)  # Linux reports KiB


def best(repeat: int, command: list[str], env: dict[str, str], timed_inside: bool = True) -> Run:
    runs = [measure(command, env, timed_inside) for _ in range(repeat)]
    return Run(min(r.seconds for r in runs), min(r.wall for r in runs), max(r.rss for r in runs))


def stepc_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m stepc``."""
    script = Path(sys.executable).with_name("stepc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stepc"]


def process_env(workdir: Path) -> dict[str, str]:
    """Bytecode cached, as in any real install (some sandboxes set PYTHONDONTWRITEBYTECODE,
    which would measure compiling stepc's own modules); a private cache keeps the repo clean."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def fmt_rss(rss: int) -> str:
    return f"{rss / 2**20:7.0f}"


def bench_shapes(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> list[str]:
    """The table of shapes x sizes x rows; returns the bars missed."""
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    rows = ["parse", "ir", *args.targets, "all"]
    sizes = sorted(set(args.sizes) | {2 * n for n in args.doubling})
    missed: list[str] = []
    print(f"{'shape':<12} {'steps':>6} {'row':<8} {'cpu s':>8} {'wall s':>8} {'MiB':>7} {'x parse':>8} {'x2':>6}  load")
    for shape in args.shapes:
        times: dict[tuple[int, str], float] = {}
        for steps in sizes:
            path = workdir / f"{shape}_{steps}.py"
            path.write_text(SHAPES[shape](steps), encoding="utf-8")
            for row in rows:
                if row == "all":
                    out = workdir / f"out_{shape}_{steps}"
                    command = [*stepc_command(), "compile", str(path), "--target", "all", "-o", str(out)]
                    run = best(args.repeat, command, env, timed_inside=False)
                    shutil.rmtree(out, ignore_errors=True)
                else:
                    run = best(args.repeat, [*me, row, str(path)], env)
                times[(steps, row)] = run.seconds
                ratio = run.seconds / times[(steps, "parse")]
                half = times.get((steps // 2, row)) if steps // 2 in args.doubling else None
                doubling = f"{run.seconds / half:6.2f}" if half else ""
                print(
                    f"{shape:<12} {steps:>6} {row:<8} {run.seconds:8.3f} {run.wall:8.3f} {fmt_rss(run.rss)}"
                    f" {ratio:8.2f} {doubling:>6}"
                    f"  {load_average()}",
                    flush=True,
                )
                if steps == 1000 and row in TARGETS and ratio > TIME_BAR:
                    missed.append(f"{shape} {steps} {row}: {ratio:.2f}x the parse (bar {TIME_BAR}x)")
                # The bar is stepc's: the bare parse is the peer (libcst's own growth, shown beside),
                # and `all` is a whole process whose imports halve its ratio.
                if half and run.seconds / half > DOUBLING_BAR and row not in ("all", "parse"):
                    missed.append(f"{shape} {steps // 2}->{steps} {row}: doubling {run.seconds / half:.2f}x")
                if steps == 10000 and row == "all" and (run.seconds > ALL_SECONDS_BAR or run.rss > ALL_BYTES_BAR):
                    missed.append(f"{shape} 10000 all: {run.seconds:.1f} s, {run.rss / 2**20:.0f} MiB")
    return missed


def bench_startup(repeat: int, workdir: Path, env: dict[str, str]) -> list[str]:
    """The start-up bars: one small file, and many small files in one process."""
    one = workdir / "one.py"
    one.write_text(chain_source(1), encoding="utf-8")
    many = workdir / "many"
    many.mkdir()
    for i in range(200):
        (many / f"flow_{i:03}.py").write_text(chain_source(5), encoding="utf-8")
    files = sorted(str(p) for p in many.glob("*.py"))
    check = stepc_command()
    floor = best(repeat, [sys.executable, "-c", "import libcst"], env, timed_inside=False)
    single = best(repeat, [*check, "check", str(one)], env, timed_inside=False)
    batch = best(repeat, [*check, "check", *files], env, timed_inside=False)
    print()
    print(f"Processes (CPU time), best of {repeat}; load {load_average()}")
    print(f"  python -c 'import libcst'      {floor.seconds * 1000:8.1f} ms")
    print(f"  stepc check one.py             {single.seconds * 1000:8.1f} ms   ({single.seconds / floor.seconds:.2f}x)")
    print(f"  stepc check 200 files          {batch.seconds * 1000:8.1f} ms")
    missed = []
    if single.seconds / floor.seconds > 1.5:
        missed.append(f"stepc check on one file is {single.seconds / floor.seconds:.2f}x the libcst import (bar 1.5x)")
    if batch.seconds > 2:
        missed.append(f"200 files took {batch.seconds:.2f} s (bar 2 s)")
    return missed


def numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def names(text: str) -> list[str]:
    return [n for n in text.split(",") if n]


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        gc.collect()
        print(*work(sys.argv[2], sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=numbers, default=[100, 1000, 10000], help="steps per flow")
    parser.add_argument("--shapes", type=names, default=list(SHAPES), help=",".join(SHAPES))
    parser.add_argument("--targets", type=names, default=list(TARGETS), help=",".join(TARGETS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the best time counts)")
    parser.add_argument("--doubling", type=numbers, default=[1000], help="sizes N also measured at 2N")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up bars")
    args = parser.parse_args()
    unknown = [s for s in args.shapes if s not in SHAPES] + [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown shape or target: {', '.join(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="stepc-bench-"))
    env = process_env(workdir)
    print(f"stepc compile benchmark: best of {args.repeat}, {os.cpu_count()} cores, load {load_average()}")
    try:
        missed = bench_shapes(args, workdir, env)
        if not args.no_startup:
            missed += bench_startup(args.repeat, workdir, env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("All bars met." if not missed else "Missed:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
