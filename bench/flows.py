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


SCOPE_DEPTH = 6  # maps chained inside the nested fan-out of each scope


def scopes_source(steps: int, depth: int = SCOPE_DEPTH) -> str:
    """Nested fan-out scopes one after the other: a step makes a list; a map over its items
    makes a list per item; a nested foreach (``nested=True``) over those lists opens a scope
    inside, holding ``depth`` chained maps; a chained map of the outer map closes the inner
    scope (it gets each outer item's inner results), a gather closes the outer one and feeds
    the next scope's list."""
    per_scope = depth + 4
    body: list[str] = []
    names: list[str] = []
    previous: str | None = None
    for k in range(max(1, steps // per_scope)):
        make, outer = f"make{k}", f"outer{k}"
        inputs = [previous] if previous else []
        options = ([f"inputs={inputs!r}"] if inputs else []) + [f"outputs=['items{k}']"]
        body += _step(make, options, [*inputs, "width: int = 3"], "list(range(width))")
        options = [f"inputs=['items{k}']", f"outputs=['lists{k}', 'tag{k}']", f"foreach='items{k}'"]
        body += _step(outer, options, [f"items{k}"], f"[items{k}, items{k} + 1], items{k}")
        names += [make, outer]
        source = f"lists{k}"
        for d in range(depth):
            mapped, output = f"map{k}_{d}", f"m{k}_{d}"
            options = [f"inputs=[{source!r}]", f"outputs=[{output!r}]", f"foreach={source!r}"]
            options += ["nested=True"] if d == 0 else []
            body += _step(mapped, options, [source, "seed: int = 7"], f"{source} * seed")
            names.append(mapped)
            source = output
        close, gather = f"close{k}", f"gather{k}"
        options = [f"inputs=['tag{k}', {source!r}]", f"outputs=['c{k}']", f"foreach='tag{k}'"]
        body += _step(close, options, [f"tag{k}", source], f"tag{k} + sum({source})")
        body += _step(gather, [f"inputs=['c{k}']", f"outputs=['g{k}']"], [f"c{k}"], f"sum(c{k})")
        names += [close, gather]
        previous = f"g{k}"
    return _module(names, body, f"scopes-{steps}")


SHAPES: dict[str, Callable[[int], str]] = {
    "chain": chain_source,
    "independent": independent_source,
    "conditions": conditions_source,
    "scopes": scopes_source,
}
