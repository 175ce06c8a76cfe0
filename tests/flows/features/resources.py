"""Resource requests (CPU and memory)."""

from stepc import step


@step(outputs=["x"], resources={"cpu": 1, "memory": "512Mi"})
def heavy():
    return 1
