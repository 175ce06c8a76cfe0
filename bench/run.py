"""Benchmark: stepc's local interpreter side by side with Metaflow's local ``run``.

    python bench/run.py [--repeat 3] [--skip-metaflow]

Measures, with the start-up of each tool cancelled out:
  * per-step overhead = (T(chain of 22 trivial steps) - T(chain of 2)) / 20
  * a 50-item foreach of trivial items with 2 workers (both tools)
  * stepc only: a 1,000-item foreach on 2 workers, a cache hit per step, and the speed-up of
    ``--workers 2`` over ``--workers 1`` on independent steps that sleep 0.5 s.

The first two are measured twice for stepc: on its own function-dialect version of each flow
(the unlabelled rows), and on the very Metaflow file Metaflow runs (the rows marked "same
Metaflow file"), read by stepc's class dialect. The second pair is the like-for-like one: same
file, same steps, only the tool differs. stepc imports that file at run time, so those rows
need metaflow importable by this interpreter (stepc's dev extra installs it); without it they
are left out. They are run even with --skip-metaflow, with Metaflow's column empty.

Metaflow runs in its own virtualenv (created on first use under ~/.cache/stepc-bench), with
its local datastore and metadata under a temporary directory; stepc runs with this interpreter.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

CACHE = Path(os.environ.get("STEPC_BENCH_CACHE", Path.home() / ".cache" / "stepc-bench"))
METAFLOW_PY = CACHE / "venv" / "bin" / "python"
STEPC = [sys.executable, "-m", "stepc"]


# --- flows -------------------------------------------------------------------------------------


def stepc_chain(n: int, cache: bool = False) -> str:
    option = ', cache="code_hash"' if cache else ""
    lines = ["from stepc import pipeline, step", ""]
    lines += [f"@step(outputs=['x0']{option})", "def s0():", "    return 0", ""]
    for i in range(1, n):
        lines += [
            f"@step(inputs=['x{i - 1}'], outputs=['x{i}']{option})",
            f"def s{i}(x{i - 1}):",
            f"    return x{i - 1} + 1",
            "",
        ]
    lines.append(f"pipeline('chain{n}', steps=[{', '.join(f's{i}' for i in range(n))}])")
    return "\n".join(lines) + "\n"


def stepc_foreach(n: int) -> str:
    return textwrap.dedent(
        f"""
        from stepc import pipeline, step

        @step(outputs=["items"])
        def start():
            return list(range({n}))

        @step(inputs=["items"], outputs=["squared"], foreach="items")
        def work(items):
            return items * items

        @step(inputs=["squared"], outputs=["total"])
        def join(squared):
            return sum(squared)

        pipeline("foreach{n}", steps=[start, work, join])
        """
    )


def stepc_sleeps(n: int, seconds: float = 0.5) -> str:
    lines = ["import time", "from stepc import pipeline, step", ""]
    for i in range(n):
        lines += [f"@step(outputs=['z{i}'])", f"def nap{i}():", f"    time.sleep({seconds})", "    return 1", ""]
    lines.append(f"pipeline('sleeps', steps=[{', '.join(f'nap{i}' for i in range(n))}])")
    return "\n".join(lines) + "\n"


def metaflow_chain(n: int) -> str:
    # start -> s1 -> ... -> end: n steps in all
    names = ["start", *[f"s{i}" for i in range(1, n - 1)], "end"]
    body = []
    for i, name in enumerate(names):
        body.append("    @step")
        body.append(f"    def {name}(self):")
        body.append("        self.x = 0" if i == 0 else "        self.x = self.x + 1")
        if name != "end":
            body.append(f"        self.next(self.{names[i + 1]})")
        body.append("")
    return (
        "from metaflow import FlowSpec, step\n\n\nclass Chain(FlowSpec):\n"
        + "\n".join(body)
        + ("\n\nif __name__ == '__main__':\n    Chain()\n")
    )


def metaflow_foreach(n: int) -> str:
    return textwrap.dedent(
        f"""
        from metaflow import FlowSpec, step

        class Fan(FlowSpec):
            @step
            def start(self):
                self.items = list(range({n}))
                self.next(self.work, foreach="items")

            @step
            def work(self):
                self.squared = self.input * self.input
                self.next(self.join)

            @step
            def join(self, inputs):
                self.total = sum(i.squared for i in inputs)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            Fan()
        """
    )


# --- timing ------------------------------------------------------------------------------------


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def best_of(repeat: int, fn: Callable[[], float]) -> float:
    """The fastest of ``repeat`` runs: what the tool costs when the machine lets it (as timeit
    does); on a shared machine a median mostly measures the neighbours."""
    return min(fn() for _ in range(repeat))


class Stepc:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.store = work / "stepc-store"

    def flow(self, name: str, text: str) -> Path:
        path = self.work / f"{name}.py"
        path.write_text(text)
        return path

    def run(self, flow: Path, workers: int = 2, store: Path | None = None) -> float:
        target = store or (self.work / f"store-{time.monotonic_ns()}")  # fresh: no cache hits
        return timed([*STEPC, "run", str(flow), "-q", "--store", str(target), "-j", str(workers)])


class Metaflow:
    def __init__(self, work: Path) -> None:
        self.work = work / "metaflow"
        self.work.mkdir()
        self.env = dict(os.environ)
        self.env.update(
            METAFLOW_DEFAULT_DATASTORE="local",
            METAFLOW_DEFAULT_METADATA="local",
            METAFLOW_DATASTORE_SYSROOT_LOCAL=str(self.work),
            USERNAME="bench",
        )

    @staticmethod
    def importable_by_stepc() -> bool:
        # stepc imports a class-dialect module at run time, with this interpreter (not Metaflow's venv)
        return importlib.util.find_spec("metaflow") is not None

    @staticmethod
    def ensure() -> str:
        if not METAFLOW_PY.exists():
            print(f"creating {METAFLOW_PY.parent.parent} (pip install metaflow)...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(METAFLOW_PY.parent.parent)], check=True)
            subprocess.run([str(METAFLOW_PY), "-m", "pip", "install", "-q", "metaflow"], check=True)
        out = subprocess.run(
            [str(METAFLOW_PY), "-c", "import metaflow; print(metaflow.__version__)"], capture_output=True, text=True
        )
        return out.stdout.strip()

    def flow(self, name: str, text: str) -> Path:
        path = self.work / f"{name}.py"
        path.write_text(text)
        return path

    def run(self, flow: Path, workers: int = 2) -> float:
        cmd = [str(METAFLOW_PY), str(flow), "--no-pylint", "run", "--max-workers", str(workers)]
        return timed(cmd, env=self.env, cwd=self.work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the best is shown)")
    parser.add_argument("--skip-metaflow", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="stepc-bench-") as tmp:
        work = Path(tmp)
        s = Stepc(work)
        chain2, chain22 = s.flow("chain2", stepc_chain(2)), s.flow("chain22", stepc_chain(22))
        # stepc runs are cheap: more of them steady the small differences measured below
        n = max(args.repeat, 5)
        s2 = best_of(n, lambda: s.run(chain2))
        s22 = best_of(n, lambda: s.run(chain22))
        s_step = (s22 - s2) / 20
        fe50 = s.flow("foreach50", stepc_foreach(50))
        s_fe50 = best_of(n, lambda: s.run(fe50, workers=2))

        # the Metaflow files, written once: stepc and Metaflow run the very same ones
        m = Metaflow(work)
        mc2, mc22 = m.flow("chain2", metaflow_chain(2)), m.flow("chain22", metaflow_chain(22))
        mfe = m.flow("foreach50", metaflow_foreach(50))

        same = Metaflow.importable_by_stepc()
        if same:
            sm2 = best_of(n, lambda: s.run(mc2))
            sm22 = best_of(n, lambda: s.run(mc22))
            sm_step = (sm22 - sm2) / 20
            sm_fe50 = best_of(n, lambda: s.run(mfe, workers=2))

        m_step = m_fe50 = None
        version = ""
        if not args.skip_metaflow:
            version = Metaflow.ensure()
            m2 = best_of(args.repeat, lambda: m.run(mc2))
            m22 = best_of(args.repeat, lambda: m.run(mc22))
            m_step = (m22 - m2) / 20
            m_fe50 = best_of(args.repeat, lambda: m.run(mfe, workers=2))

        def ratio(mine: float, theirs: float | None) -> str:
            if theirs is None or mine <= 0 or theirs <= 0:  # a difference lost in the noise has no ratio
                return "-"
            return f"{theirs / mine:.1f}x faster" if theirs >= mine else f"{mine / theirs:.1f}x slower"

        rows.append(("chain of 2 steps (wall)", f"{s2:.3f} s", "-" if m_step is None else f"{m2:.3f} s", ""))
        rows.append(("chain of 22 steps (wall)", f"{s22:.3f} s", "-" if m_step is None else f"{m22:.3f} s", ""))
        rows.append(
            (
                "per-step overhead",
                f"{s_step * 1000:.1f} ms",
                "-" if m_step is None else f"{m_step * 1000:.0f} ms",
                ratio(s_step, m_step),
            )
        )
        rows.append(
            (
                "foreach 50 items, 2 workers",
                f"{s_fe50:.3f} s",
                "-" if m_fe50 is None else f"{m_fe50:.3f} s",
                ratio(s_fe50, m_fe50),
            )
        )

        if same:
            label = ", same Metaflow file"
            rows.append(
                (f"chain of 2 steps{label} (wall)", f"{sm2:.3f} s", "-" if m_step is None else f"{m2:.3f} s", "")
            )
            rows.append(
                (f"chain of 22 steps{label} (wall)", f"{sm22:.3f} s", "-" if m_step is None else f"{m22:.3f} s", "")
            )
            rows.append(
                (
                    f"per-step overhead{label}",
                    f"{sm_step * 1000:.1f} ms",
                    "-" if m_step is None else f"{m_step * 1000:.0f} ms",
                    ratio(sm_step, m_step),
                )
            )
            rows.append(
                (
                    f"foreach 50 items, 2 workers{label}",
                    f"{sm_fe50:.3f} s",
                    "-" if m_fe50 is None else f"{m_fe50:.3f} s",
                    ratio(sm_fe50, m_fe50),
                )
            )

        # stepc-only bars
        fe1000 = s.flow("foreach1000", stepc_foreach(1000))
        s_fe1000 = best_of(args.repeat, lambda: s.run(fe1000, workers=2))
        rows.append(("foreach 1000 items, 2 workers", f"{s_fe1000:.3f} s", "", "bar: < 10 s"))

        # 100 cached steps against 2, so that a fraction of a millisecond per hit shows above the noise
        c2, c102 = s.flow("cached2", stepc_chain(2, cache=True)), s.flow("cached102", stepc_chain(102, cache=True))
        warm2, warm102 = work / "warm2", work / "warm102"
        s.run(c2, store=warm2)
        s.run(c102, store=warm102)
        h2 = best_of(n, lambda: s.run(c2, store=warm2))
        h102 = best_of(n, lambda: s.run(c102, store=warm102))
        rows.append(("cache hit, per step", f"{(h102 - h2) / 100 * 1000:.1f} ms", "", "bar: < 5 ms"))

        naps = s.flow("sleeps", stepc_sleeps(12))
        awake = s.flow("awake", stepc_sleeps(12, 0.0))  # the same flow without the sleeps: start-up
        w1 = best_of(args.repeat, lambda: s.run(naps, workers=1))
        w2 = best_of(args.repeat, lambda: s.run(naps, workers=2))
        w0 = best_of(args.repeat, lambda: s.run(awake, workers=2))
        rows.append(
            (
                "12 x sleep 0.5 s, workers 1 / 2",
                f"{w1:.3f} s / {w2:.3f} s",
                "",
                f"speed-up {w1 / w2:.2f}x wall, {(w1 - w0) / (w2 - w0):.2f}x without start-up (bar: >= 1.8x)",
            )
        )

    tools = f"stepc {_stepc_version()} vs metaflow {version or '(skipped)'}"
    if same:  # the metaflow that stepc imports the same-file flows with: not Metaflow's venv
        tools += f" (metaflow {importlib.metadata.version('metaflow')} in stepc's environment)"
    load = f"1-minute load {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(f"{tools}; {os.cpu_count()} cores ({load}); best of {args.repeat} (metaflow), {n} (stepc)")
    widths = [max(len(r[i]) for r in [("figure", "stepc", "metaflow", "ratio / bar"), *rows]) for i in range(4)]
    for row in [("figure", "stepc", "metaflow", "ratio / bar"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not same:
        print("same-Metaflow-file rows left out: metaflow is not importable by", sys.executable)
    if m_step is not None:
        verdict = "met" if s_step <= m_step / 20 else "NOT met"
        print(f"per-step overhead bar: stepc <= metaflow / 20 = {m_step / 20 * 1000:.1f} ms -> {verdict}")
        if same:
            verdict = "met" if sm_step <= m_step / 20 else "NOT met"
            print(f"  same Metaflow file: stepc {sm_step * 1000:.1f} ms -> {verdict}")


def _stepc_version() -> str:
    import stepc

    return stepc.__version__


if __name__ == "__main__":
    main()
