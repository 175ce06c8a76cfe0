"""Every function-dialect feature the backends map: a feature tour, small enough to run."""

from stepc import pipeline, step

REGIONS = ["eu", "us"]
DEFAULT_IMAGE = "python:3.12-slim"


@step(outputs=["shards"], tags=["ingest", "daily"], env={"LOG_LEVEL": "info"})
def plan_shards(n_shards: int = 3):
    """Cut the work into shards."""
    return [{"shard": i} for i in range(n_shards)]


@step(inputs=["shards"], outputs=["counts"], foreach="shards", retry={"times": 3, "delay": 2, "backoff": 2},
      timeout="5m", resources={"cpu": "500m", "memory": "256Mi"}, cache=True, max_parallel=2)
def count(shards, scale: float = 1.5):
    """Count one shard."""
    return int((shards["shard"] + 1) * 10 * scale)


@step(inputs=["counts"], outputs=["doubled"], foreach="counts")
def double(counts):
    """A chained map: one item of count at a time."""
    return counts * 2


@step(inputs=["doubled"], outputs=["total"], weight=2.0)
def total(doubled):
    return sum(doubled)


@step(outputs=["per_region"], foreach="regions", image="python:3.11-slim",
      resources={"cpu": 2, "memory": "2Gi", "gpu": 1, "gpu_type": "nvidia-tesla-t4", "disk": "10Gi"})
def by_region(regions: list = REGIONS):
    """Fan out over a list parameter."""
    return {"region": regions}


@step(inputs=["total", "per_region"], outputs=["report"], when="publish and threshold <= 1000",
      rollback="undo_report", timeout=120)
def report(total, per_region, publish: bool = True, threshold: int = 100):
    return {"total": total, "regions": [r["region"] for r in per_region], "threshold": threshold}


def undo_report(report):
    print("rolling back", report)


@step(after=["report"], description="Runs last, whatever report produced.", tags={"team": "ml-platform"})
def notify(channel: str = "#ml-runs"):
    print("notify", channel)


pipeline(
    "feature-tour",
    steps=[plan_shards, count, double, total, by_region, report, notify],
    image=DEFAULT_IMAGE,
    retry=1,
    max_parallel=4,
    description="A tour of every feature the backends map.",
)
