"""The one graph utility (stepc.graphs): order, cycles and reachability, iterative, so that a
long chain never meets Python's recursion limit; and the front end and lints built on it."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from stepc.backends.argo_lint import lint_documents
from stepc.backends.gha_lint import lint_workflow
from stepc.backends.valohai_lint import lint_config

from stepc import graphs
from tests.helpers import REPO

CHAIN = 20_000


def chain(n: int) -> dict[str, list[str]]:
    return {f"n{i}": [f"n{i + 1}"] if i + 1 < n else [] for i in range(n)}


def is_order(graph: dict[str, list[str]], order: list[str]) -> bool:
    position = {node: i for i, node in enumerate(order)}
    return sorted(order) == sorted(graph) and all(position[a] < position[b] for a in graph for b in graph[a])


def is_cycle(graph: dict[str, list[str]], path: list[str]) -> bool:
    return len(path) >= 2 and path[0] == path[-1] and all(b in graph[a] for a, b in zip(path, path[1:], strict=False))


def test_a_chain_longer_than_the_recursion_limit_orders_and_reaches() -> None:
    assert 10 * sys.getrecursionlimit() < CHAIN
    graph = chain(CHAIN)
    backwards = list(reversed(graph))  # the ties order must not override the edges
    assert graphs.topological_order(graph, backwards) == list(graph)
    assert graphs.find_cycle(graph) is None
    assert graphs.reachable(graph, ["n0"]) == set(graph) - {"n0"}
    assert graphs.reachable(graphs.reverse(graph), [f"n{CHAIN - 1}"]) == set(graph) - {f"n{CHAIN - 1}"}


def test_a_cycle_at_the_end_of_a_long_chain_is_found_as_a_path() -> None:
    graph = chain(CHAIN)
    graph[f"n{CHAIN - 1}"] = [f"n{CHAIN - 3}"]
    assert graphs.topological_order(graph) is None
    assert graphs.find_cycle(graph) == [f"n{CHAIN - 3}", f"n{CHAIN - 2}", f"n{CHAIN - 1}", f"n{CHAIN - 3}"]


def test_ties_follow_the_given_order() -> None:
    graph = {"a": ["c"], "b": ["c"], "c": [], "d": []}
    assert graphs.topological_order(graph, ["d", "b", "a", "c"]) == ["d", "b", "a", "c"]
    assert graphs.topological_order(graph, ["c", "a", "b", "d"]) == ["a", "b", "c", "d"]
    assert graphs.topological_order(graph) == ["a", "b", "c", "d"]  # no order: the graph's own


def test_the_cycle_found_is_real_and_starts_at_its_earliest_node() -> None:
    # a -> b -> c -> d -> b, and e -> e: the path names only nodes on the cycle.
    graph = {"a": ["b"], "b": ["c"], "c": ["d"], "d": ["b"], "e": ["e"]}
    assert graphs.find_cycle(graph) == ["b", "c", "d", "b"]
    assert graphs.find_cycle(graph, ["e", "d", "c", "b", "a"]) == ["e", "e"]
    assert graphs.find_cycle(graph, ["a", "d", "c", "b", "e"]) == ["d", "b", "c", "d"]


def test_unknown_successors_and_repeated_edges_are_ignored() -> None:
    graph = {"a": ["b", "b", "ghost"], "b": []}
    assert graphs.topological_order(graph) == ["a", "b"]
    assert graphs.find_cycle(graph) is None
    assert graphs.reverse(graph) == {"a": [], "b": ["a"]}
    assert graphs.reachable(graph, ["a", "ghost"]) == {"b"}


def test_ancestors_in_one_pass() -> None:
    graph = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": [], "e": ["d"]}
    order = graphs.topological_order(graph)
    assert order is not None
    assert graphs.ancestors(graph, order) == {"a": set(), "b": {"a"}, "c": {"a"}, "e": set(), "d": {"a", "b", "c", "e"}}


def test_random_graphs_agree_with_their_definitions() -> None:
    rng = random.Random(12)
    for _ in range(300):
        size = rng.randint(1, 9)
        nodes = [f"v{i}" for i in range(size)]
        graph = {n: [m for m in nodes if rng.random() < 0.25] for n in nodes}
        order = graphs.topological_order(graph)
        cycle = graphs.find_cycle(graph)
        assert (order is None) == (cycle is not None)
        if order is not None:
            assert is_order(graph, order)
        else:
            assert cycle is not None and is_cycle(graph, cycle)
            assert len(set(cycle)) == len(cycle) - 1  # simple: no node twice
        for node in nodes:
            reached = graphs.reachable(graph, [node])
            assert all(b in reached for a in reached | {node} for b in graph[a])


def test_every_lint_names_the_cycle() -> None:
    argo = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "x-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "a", "template": "t", "dependencies": ["c"]},
                            {"name": "b", "template": "t", "dependencies": ["a"]},
                            {"name": "c", "template": "t", "dependencies": ["b"]},
                        ]
                    },
                },
                {"name": "t", "container": {"image": "x"}},
            ],
        },
    }
    assert "tasks form a cycle: a -> c -> b -> a" in lint_documents(yaml.safe_dump(argo))
    gha = {"on": {"push": {}}, "jobs": {"x": {"needs": ["y"], "steps": []}, "y": {"needs": "x", "steps": []}}}
    assert "jobs form a cycle through `needs`: x -> y -> x" in lint_workflow(yaml.safe_dump(gha))
    valohai = [
        {"step": {"name": "s", "image": "x", "command": "true"}},
        {
            "pipeline": {
                "name": "p",
                "nodes": [{"name": n, "step": "s", "type": "execution"} for n in ("a", "b")],
                "edges": [["a.output.*", "b.input.x"], ["b.output.*", "a.input.y"]],
            }
        },
    ]
    assert lint_config(yaml.safe_dump(valohai)) == ["nodes form a cycle through edges: a -> b -> a"]


def run_stepc(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepc", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def test_a_class_dialect_cycle_names_a_real_cycle(tmp_path: Path) -> None:
    # b -> c -> b loops, and c also goes on to e and the join d: those wait on the loop but are
    # not on it, so the message names only b and c, at b (the cycle's first in the class).
    source = textwrap.dedent("""\
        from metaflow import FlowSpec, step


        class LoopFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.d)

            @step
            def b(self):
                self.next(self.c)

            @step
            def c(self):
                self.next(self.b, self.e)

            @step
            def e(self):
                self.next(self.d)

            @step
            def d(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    flow = tmp_path / "loop_flow.py"
    flow.write_text(source)
    line = source.splitlines().index("    def b(self):") + 1
    result = run_stepc("check", str(flow), timeout=120)
    assert result.returncode != 0
    assert f"loop_flow.py:{line}:" in result.stderr, result.stderr
    assert "S107" in result.stderr and "self.next calls form a cycle through steps b -> c -> b\n" in result.stderr


def long_class_flow(n: int) -> str:
    body = [
        "from metaflow import FlowSpec, step",
        "",
        "",
        "class LongFlow(FlowSpec):",
        "    @step",
        "    def start(self):",
        "        self.x = 0",
        "        self.next(self.s1)",
    ]
    for i in range(1, n + 1):
        after = f"s{i + 1}" if i < n else "end"
        body += ["", "    @step", f"    def s{i}(self):", "        self.x += 1", f"        self.next(self.{after})"]
    body += ["", "    @step", "    def end(self):", "        pass", ""]
    return "\n".join(body)


def test_argo_and_github_lints_take_a_5000_step_class_chain(tmp_path: Path) -> None:
    """The lints used to walk `needs` / `dependencies` recursively: RecursionError at ~1,000."""
    flow = tmp_path / "long_flow.py"
    flow.write_text(long_class_flow(5_000))
    for target, written in (("argo", "LongFlow.argo.yaml"), ("gha", ".github/workflows/LongFlow.yml")):
        out = tmp_path / target
        result = run_stepc("compile", str(flow), "--target", target, "-o", str(out), timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "RecursionError" not in result.stderr
        assert (out / written).stat().st_size > 1_000_000, sorted(p.name for p in out.rglob("*"))
