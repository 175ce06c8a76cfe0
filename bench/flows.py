"""Generated function-dialect flow files for the compile benchmark, one function per shape.

Each function returns the source of a module with about ``steps`` steps and one
``pipeline(...)`` call. The shapes are the ones a compile time must stay linear in:

* ``chain``: each step reads the output of the one before;
* ``independent``: no step reads another (the widest DAG);
* ``conditions``: a chain with a ``when`` on every 10th step and a retry on every 7th;
* ``scopes``: fan-out scopes, each a chain of maps over one list closed by a gather.
"""

from __future__ import annotations

from collections.abc import Callable

HEADER = ['"""A generated flow for the compile benchmark."""', "from stepc import pipeline, step", ""]


def _step(name: str, options: list[str], signature: list[str], body: str = "seed * 2") -> list[str]:
    return [
        f"@step({', '.join(options)})",
        f"def {name}({', '.join(signature)}):",
        f'    """{name} of the benchmark."""',
        f"    return {body}",
        "",
    ]


def _module(names: list[str], body: list[str], title: str) -> str:
    steps = ", ".join(names)
    return "\n".join([*HEADER, *body, f"pipeline({title!r}, steps=[{steps}])"]) + "\n"


def chain_source(steps: int) -> str:
    """``s0 -> s1 -> ...``: each step reads the output of the one before and a parameter."""
    body: list[str] = []
    for i in range(steps):
        inputs = [f"out{i - 1}"] if i else []
        options = ([f"inputs={inputs!r}"] if inputs else []) + [f"outputs=['out{i}']"]
        body += _step(f"s{i}", options, [*inputs, "seed: int = 7"])
    return _module([f"s{i}" for i in range(steps)], body, f"chain-{steps}")


def independent_source(steps: int) -> str:
    """``steps`` steps that read nothing from each other: one layer as wide as the flow."""
    body: list[str] = []
    for i in range(steps):
        body += _step(f"s{i}", [f"outputs=['out{i}']"], ["seed: int = 7"])
    return _module([f"s{i}" for i in range(steps)], body, f"independent-{steps}")


def conditions_source(steps: int) -> str:
    """A chain with ``when`` on every 10th step and ``retry`` on every 7th.

    The function dialect's conditions read parameters only (README, "Conditions"): a
    condition on an upstream artifact is a class-dialect switch, so every ``when`` here reads
    the parameters ``mode`` and ``epochs``. An input defaulting to ``None`` after a
    conditional step lets the chain go on when it is skipped, as a merge does.
    """
    body: list[str] = []
    for i in range(steps):
        inputs = [f"out{i - 1}"] if i else []
        options = ([f"inputs={inputs!r}"] if inputs else []) + [f"outputs=['out{i}']"]
        if i % 10 == 9:
            options.append("when=\"mode == 'full' and epochs > 1\"")
        if i % 7 == 6:
            options.append("retry={'times': 2, 'delay': 5, 'backoff': 2}")
        after_conditional = i % 10 == 0 and i > 0
        signature = [f"{inputs[0]}=None" if after_conditional else name for name in inputs]
        signature += ["seed: int = 7", "mode: str = 'full'", "epochs: int = 3"]
        body += _step(f"s{i}", options, signature)
    return _module([f"s{i}" for i in range(steps)], body, f"conditions-{steps}")


SCOPE_DEPTH = 8  # maps chained inside one fan-out scope


def scopes_source(steps: int, depth: int = SCOPE_DEPTH) -> str:
    """Fan-out scopes one after the other: a step makes a list, ``depth`` chained maps run over
    its items, a gather closes the scope and feeds the next scope's list.

    This is the deepest nesting the function dialect reads today (a foreach holds a chain of
    maps). When nested foreach scopes land, deepen it here: open a scope inside the maps.
    """
    per_scope = depth + 2
    body: list[str] = []
    names: list[str] = []
    previous: str | None = None
    for k in range(max(1, steps // per_scope)):
        make = f"make{k}"
        inputs = [previous] if previous else []
        options = ([f"inputs={inputs!r}"] if inputs else []) + [f"outputs=['items{k}']"]
        body += _step(make, options, [*inputs, "width: int = 3"], "list(range(width))")
        names.append(make)
        source = f"items{k}"
        for d in range(depth):
            mapped = f"map{k}_{d}"
            output = f"m{k}_{d}"
            options = [f"inputs=[{source!r}]", f"outputs=[{output!r}]", f"foreach={source!r}"]
            body += _step(mapped, options, [source, "seed: int = 7"], f"{source} * seed")
            names.append(mapped)
            source = output
        gather = f"gather{k}"
        body += _step(gather, [f"inputs=[{source!r}]", f"outputs=['g{k}']"], [source], f"sum({source})")
        names.append(gather)
        previous = f"g{k}"
    return _module(names, body, f"scopes-{steps}")


SHAPES: dict[str, Callable[[int], str]] = {
    "chain": chain_source,
    "independent": independent_source,
    "conditions": conditions_source,
    "scopes": scopes_source,
}
