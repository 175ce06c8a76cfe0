"""Steps that start processes trying to outlive them, for the kill tests and bench/kill.py.

Each step starts, under the folder ``marker``, three sleepers that write their pid there and
ignore SIGALRM: one in the step's process group, one in a new session that also ignores
SIGTERM, and one daemonised by a double fork (reparented away from the step). Every sleeper's
command line holds ``marker``, so a test finds survivors by scanning ``/proc``.
"""

import os
import signal
import subprocess
import sys
import time

from stepc import pipeline, step

SLEEPER = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
    "if sys.argv[2] == 'stubborn':\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(os.path.join(sys.argv[1], 'pid.%d' % os.getpid()), 'w').close()\n"
    "time.sleep(600)\n"
)


def _sleeper(marker: str, kind: str) -> list[str]:
    return [sys.executable, "-c", SLEEPER, marker, kind]


def spawn(marker: str) -> None:
    """Note when the step started (``marker/started``: the wall time its deadline counts
    from, give or take the step's set-up) and its pid (``marker/step.<pid>``), start the three
    sleepers, wait until each has written its pid."""
    os.makedirs(marker, exist_ok=True)
    with open(os.path.join(marker, "started"), "w") as f:
        f.write(repr(time.time()))
    open(os.path.join(marker, f"step.{os.getpid()}"), "w").close()
    subprocess.Popen(_sleeper(marker, "group"))
    subprocess.Popen(_sleeper(marker, "stubborn"), start_new_session=True)
    middle = os.fork()
    if middle == 0:  # the double fork of a daemon: the sleeper's parent exits at once
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, _sleeper(marker, "daemon"))
        finally:
            os._exit(0)
    os.waitpid(middle, 0)
    deadline = time.monotonic() + 30
    while sum(name.startswith("pid.") for name in os.listdir(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    print(f"spawned into {marker}", flush=True)


@step(outputs=["never"], timeout=1)
def overrun(marker: str = "", stubborn: bool = False):
    """Times out after starting the sleepers; ``stubborn`` ignores the deadline's SIGTERM too."""
    spawn(marker)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
    return 1


@step(outputs=["first"], group="pair")
def opener():
    return os.getpid()


@step(inputs=["first"], outputs=["second"], group="pair", timeout=1)
def grouped(first, marker: str = ""):
    """The second step of a group: ignores SIGALRM (a group used to rely on it) and overruns."""
    spawn(marker)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    print(f"same process: {first == os.getpid()}", flush=True)
    time.sleep(600)
    return first


@step(outputs=["done"])
def leaves(marker: str = ""):
    """Succeeds, leaving its sleepers behind."""
    spawn(marker)
    return True


@step(outputs=["done"])
def waits(marker: str = "", pause: float = 600.0):
    """No timeout: runs until the run is stopped (or ``pause`` ends)."""
    spawn(marker)
    time.sleep(pause)
    return True


pipeline("overrun", steps=[overrun])
pipeline("group", steps=[opener, grouped])
pipeline("leaves", steps=[leaves])
pipeline("waits", steps=[waits])
