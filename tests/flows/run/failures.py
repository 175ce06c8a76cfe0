"""Steps that fail in every way a step can: one pipeline each."""

import os
import time

from stepc import pipeline, step


@step(outputs=["never"], timeout=1)
def sleepy():
    print("going to sleep", flush=True)
    time.sleep(30)
    return 1


@step(outputs=["count"], retry={"times": 3, "delay": 0.1, "backoff": 2.0})
def flaky(counter: str = "", succeed_on: int = 3):
    with open(counter, "a") as f:
        f.write(f"{time.time()}\n")
    with open(counter) as f:
        n = len(f.read().splitlines())
    if n < succeed_on:
        raise RuntimeError(f"flaky failure {n}")
    return n


@step(outputs=["x"])
def exits():
    print("about to exit", flush=True)
    os._exit(3)
    return None  # never reached: a step with outputs returns them (S141)


@step(outputs=["x"])
def boom():
    print("about to raise")
    raise ValueError("boom")


@step(outputs=["x"])
def segfault():
    import ctypes

    print("about to crash", flush=True)
    ctypes.string_at(0)
    return None  # never reached


@step(outputs=["one", "two"])
def wrong_arity():
    return 1


@step(outputs=["after"], inputs=["x"])
def downstream(x):
    return x


@step(outputs=["first"], group="pair")
def fast():
    return os.getpid()


@step(inputs=["first"], outputs=["second"], group="pair", timeout=1)
def slow(first):
    print(f"same process: {first == os.getpid()}", flush=True)
    time.sleep(30)
    return first  # never reached: the timeout stops it


@step(outputs=["ids"])
def ids(n: int = 3):
    return list(range(n))


@step(inputs=["ids"], outputs=["out"], foreach="ids", retry=1)
def flaky_item(ids, marker_dir: str = ""):
    marker = os.path.join(marker_dir, str(ids))
    if ids == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first try of item 1")
    return ids * 10


@step(inputs=["out"], outputs=["collected"])
def collect(out):
    return out


pipeline("timeout", steps=[sleepy])
pipeline("item-retry", steps=[ids, flaky_item, collect])
pipeline("group-timeout", steps=[fast, slow])
pipeline("flaky", steps=[flaky])
pipeline("exits", steps=[exits, downstream])
pipeline("boom", steps=[boom, downstream])
pipeline("segfault", steps=[segfault, downstream])
pipeline("arity", steps=[wrong_arity])
