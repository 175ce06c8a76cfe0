"""`stepc submit` fixture: every parameter type, given on the command line, must reach the step
typed as `stepc run` types it (the step returns each value with its type's name)."""

from stepc import pipeline, step


@step(outputs=["values"])
def echo(
    count: int,
    ratio: float = 0.5,
    flag: bool = False,
    sizes: list[int] = [1],  # noqa: B006 - stepc reads defaults as literals
    options: dict = {},  # noqa: B006
    name: str = "x",
):
    values = {"count": count, "ratio": ratio, "flag": flag, "sizes": sizes, "options": options, "name": name}
    return {key: [type(value).__name__, value] for key, value in values.items()}


pipeline("submit-typed", steps=[echo])
