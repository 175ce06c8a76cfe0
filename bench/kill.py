"""How surely and how fast a timeout stops a step and every process it started.

    python bench/kill.py [--trials 20] [--grace 1]

Each trial is a fresh ``stepc run`` or ``stepc exec`` of a step from
``tests/flows/run/spawns.py`` with ``timeout=1``, in a project whose ``[tool.stepc]
kill_grace`` is ``--grace``. The step starts three sleepers that ignore SIGALRM: one in its
process group, one in a new session that ignores SIGTERM, one daemonised by a double fork.
Scenarios:

* ``overrun``: the step sleeps past its deadline;
* ``stubborn``: the step ignores SIGTERM too;
* ``group``: the second step of a ``group`` (one process) overruns, ignoring SIGALRM.

A poller scans ``/proc`` for the sleepers (their command lines hold the trial's folder); the
kill latency is the time from deadline + grace (the step's own start, which it writes, plus
1 s plus the grace) to the moment none is left (negative: all were gone before). A failure is a
process still alive 1 s after the command ended (the bench then kills it).

Bar (issue 16): no failure, and every process gone within 1 s after the grace period (max
latency < 1 s). Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BAR = 1.0
TIMEOUT = 1.0  # the steps' timeout
FLOW = Path(__file__).resolve().parents[1] / "tests" / "flows" / "run" / "spawns.py"
STEPC = [sys.executable, "-m", "stepc"]


def _alive(pid: str, needles: tuple[bytes, ...]) -> bool:
    """Whether ``pid`` runs (not a zombie) with every needle in its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        if not all(n in cmdline for n in needles):
            return False
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def survivors(marker: Path) -> list[int]:
    """The trial's processes still running: the step's own (``marker/step.<pid>``) and every
    sleeper (found by command line, so one whose pid file is missing counts too). Not the
    ``stepc`` command, which rightly outlives the attempt to record it."""
    needle = str(marker).encode()
    steps = [p.name.split(".")[1] for p in marker.glob("step.*")]
    found = [int(pid) for pid in steps if _alive(pid, (needle,))]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _alive(entry.name, (needle, b"time.sleep(600)")):
            found.append(int(entry.name))
    return found


def command(runner: str, scenario: str, flow: Path, marker: Path, store: Path) -> list[str]:
    pipeline = "group" if scenario == "group" else "overrun"
    params = ["-p", f"marker={marker}"] + (["-p", "stubborn=true"] if scenario == "stubborn" else [])
    if runner == "run":
        return [*STEPC, "run", str(flow), "-q", "--pipeline", pipeline, "--store", str(store), *params]
    steps = ["--step", "opener", "--step", "grouped"] if scenario == "group" else ["--step", "overrun"]
    return [*STEPC, "exec", str(flow), "--pipeline", pipeline, *steps, "--run-id", "r", "--store", str(store), *params]


def trial(runner: str, scenario: str, folder: Path, grace: float) -> tuple[float | None, bool]:
    """One run: (kill latency in seconds, None if it could not be measured; whether a process
    survived)."""
    marker = folder / "marker"
    gone: list[float] = []
    started_polling = threading.Event()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if len(list(marker.glob("pid.*"))) == 3:
                started_polling.set()
                if not survivors(marker):
                    gone.append(time.time())
                    return
            time.sleep(0.005)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    argv = command(runner, scenario, folder / "spawns.py", marker, folder / "store")
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=folder)
    if finished.returncode != 1:
        raise SystemExit(f"{' '.join(argv)} exited {finished.returncode}, not 1:\n{finished.stderr}")
    watcher.join(timeout=1.0)
    done.set()
    left = survivors(marker)
    for pid in left:  # clean up after a failure
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if not gone or not started_polling.is_set():
        return None, bool(left)
    deadline = float((marker / "started").read_text()) + TIMEOUT
    return gone[0] - (deadline + grace), bool(left)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--grace", type=float, default=1.0, help="[tool.stepc] kill_grace of the trials")
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        raise SystemExit("bench/kill.py reads /proc: Linux only")
    ok = True
    print(f"{'runner':<6} {'scenario':<9} {'trials':>6} {'failures':>8} {'p50 ms':>7} {'max ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for runner in ("run", "exec"):
            for scenario in ("overrun", "stubborn", "group"):
                latencies: list[float] = []
                failures = 0
                for n in range(args.trials):
                    folder = Path(tmp) / f"{runner}-{scenario}-{n}"
                    folder.mkdir()
                    (folder / "spawns.py").write_text(FLOW.read_text())
                    (folder / "pyproject.toml").write_text(f"[tool.stepc]\nkill_grace = {args.grace}\n")
                    latency, survived = trial(runner, scenario, folder, args.grace)
                    failures += survived or latency is None
                    if latency is not None:
                        latencies.append(latency)
                p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
                worst = max(latencies) * 1000 if latencies else float("nan")
                print(f"{runner:<6} {scenario:<9} {args.trials:>6} {failures:>8} {p50:>7.0f} {worst:>7.0f}")
                ok = ok and failures == 0 and bool(latencies) and max(latencies) < BAR
    print(
        f"bar: no survivor, every process gone within {BAR:.0f} s after the grace period: {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
