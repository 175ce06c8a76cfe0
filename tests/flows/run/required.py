"""A pipeline with a required parameter."""

from stepc import pipeline, step


@step(outputs=["out"])
def use(name: str, times: int = 2):
    return name * times


pipeline("required", steps=[use])
