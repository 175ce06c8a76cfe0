"""What showing a step's output live costs ``stepc run``, next to the same run with ``--quiet``.

    python bench/output.py [--lines 200000] [--repeat 3]

One flow, one step printing ``--lines`` lines (a training loop's log, say). Each mode is a fresh
``stepc run`` process with its own store; the time is wall seconds of the whole process (what
a user waits for), the best of ``--repeat``:

* ``quiet``: ``--quiet``, the step's output goes to its log only;
* ``plain``: stdout is a pipe, so plain event lines, and every step line shown with its
  ``[step]`` mark;
* ``rich``: stdout is a terminal (a pseudo-terminal here), the live display with the lines
  scrolling above it.

Bar (issue 14): 200,000 printed lines cost < 1.5x the ``--quiet`` run. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR = 1.5

FLOW = """\
from stepc import step


@step(outputs=["total"])
def chatty(lines: int = 1000):
    total = 0
    for i in range(lines):
        total += i
        print(f"epoch {i}: loss {1.0 / (i + 1):.6f} total {total}")
    return total
"""


def run_plain(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode(errors='replace')}")
    return elapsed


def run_tty(argv: list[str]) -> float:
    """The run with a pseudo-terminal as stdout (so the rich display), its output drained."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    while True:
        try:
            if not os.read(fd, 1 << 16):
                break
        except OSError:  # the child closed the terminal
            break
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - started
    os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed in a terminal")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stepc-bench-output-"))
    try:
        flow = work / "chatty.py"
        flow.write_text(FLOW, encoding="utf-8")
        times: dict[str, float] = {}
        for mode in ("quiet", "plain", "rich"):
            best = float("inf")
            for n in range(args.repeat):
                store = work / f"store-{mode}-{n}"
                argv = [sys.executable, "-m", "stepc", "run", str(flow), "-p", f"lines={args.lines}"]
                argv += ["--store", str(store)] + (["--quiet"] if mode == "quiet" else [])
                best = min(best, run_tty(argv) if mode == "rich" else run_plain(argv))
            times[mode] = best
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"stepc run, one step printing {args.lines} lines: best of {args.repeat}, {os.cpu_count()} cores")
    print(f"{'mode':<8}{'wall s':>9}{'x quiet':>9}")
    missed = []
    for mode, seconds in times.items():
        ratio = seconds / times["quiet"]
        print(f"{mode:<8}{seconds:>9.3f}{ratio:>9.2f}")
        if ratio >= BAR:
            missed.append(f"{mode}: {ratio:.2f}x the quiet run (bar {BAR}x)")
    print("All bars met." if not missed else "Missed:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
