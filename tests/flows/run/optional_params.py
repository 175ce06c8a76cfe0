"""Parameters whose default is None: every engine must hand the step None when no value is
given, and the value when one is (tests/test_optional_params.py)."""

from stepc import pipeline, step


@step(outputs=["seen"])
def probe(
    max_depth: int | None = None,
    label: str | None = None,
    depths: list[int] | None = None,
    flag: bool | None = None,
):
    return repr((max_depth, label, depths, flag))


pipeline("optional-params", steps=[probe])
