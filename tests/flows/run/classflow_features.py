"""Class-dialect flows deriving from stepc.FlowSpec, for the interpreter tests (hand-built IR)."""

import os
import time

from stepc import FlowSpec, Parameter, catch, retry, step, timeout
from stepc.runtime.flowspec import (
    MergeArtifactsException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)


class Branches(FlowSpec):
    """Static fan-out, a join with merge_artifacts, a switch, and a parameter whose attribute
    name differs from its name."""

    rate = Parameter("learning_rate", default=0.5)
    mode = Parameter("mode", default="train")

    @step
    def start(self):
        self.values = [1, 2, 3]
        self.shared = "same"
        self.route = self.mode
        if self.rate > 1:
            self.big = True
        self.next(self.square, self.cube)

    @step
    def square(self):
        self.x = [v * v for v in self.values]
        self.tag = "square"
        self.next(self.merge)

    @step
    def cube(self):
        self.x = [v**3 for v in self.values]
        self.tag = "cube"
        self.only_cube = 7
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.sizes = [len(inputs), sum(inputs[0].x), sum(inputs.cube.x), [sum(i.x) for i in inputs]]
        self.join_has_values = hasattr(self, "values")
        try:
            self.merge_artifacts(inputs)
        except UnhandledInMergeArtifactsException as exc:
            self.conflicts = sorted(exc.artifact_names)
        self.tag = "merged"
        self.merge_artifacts(inputs, exclude=["x"])
        try:
            self.merge_artifacts(inputs, include=["nowhere"])
        except MissingInMergeArtifactsException as exc:
            self.missing = exc.artifact_names
        try:
            self.merge_artifacts(inputs, include=["a"], exclude=["b"])
        except MergeArtifactsException as exc:
            self.both = str(exc)
        self.has_big = hasattr(self, "big")
        self.next({"train": self.fit, "report": self.describe}, condition="route")

    @step
    def fit(self):
        self.result = f"fitted at {self.rate}"
        self.next(self.end)

    @step
    def describe(self):
        self.result = "described"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "result": self.result,
            "has_x": hasattr(self, "x"),
            "only_cube": self.only_cube,
            "shared": self.shared,
            "tag": self.tag,
            "stack": self.foreach_stack(),
            "index": self.index,
            "flow": self.name,
        }


class Fanout(FlowSpec):
    """A foreach, a step inside it (chained), and its join."""

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.base = 10
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.stack = self.foreach_stack()
        self.seen = (self.index, self.input, self.items[self.index], self.base)
        if self.index != 1:
            self.score = self.base + self.index
        self.next(self.refine)

    @step
    def refine(self):
        self.again = (self.index, self.input, self.foreach_stack(), hasattr(self, "score"))
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.n = len(inputs)
        self.scores = [getattr(i, "score", None) for i in inputs]
        self.agains = [i.again for i in inputs]
        self.bases = [i.base for i in inputs]
        self.merge_artifacts(inputs, include=["base"])
        self.outside = (self.foreach_stack(), self.index, self.input)
        self.next(self.end)

    @step
    def end(self):
        self.total = self.base + self.n


class Caught(FlowSpec):
    """@catch after retries, and @catch on a step that does not fail."""

    @step
    def start(self):
        self.keep = "inherited"
        self.next(self.risky)

    @catch(var="risky_error")
    @retry(times=1)
    @step
    def risky(self):
        self.keep = "changed"
        self.partial = 1
        raise ValueError(f"boom on attempt {os.environ['STEPC_ATTEMPT']}")
        self.next(self.safe)

    @catch(var="safe_error")
    @step
    def safe(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        err = self.risky_error
        self.summary = {
            "wrapper": type(err).__name__,
            "type": err.type,
            "exception": err.exception,
            "traceback": str(err).startswith("Traceback"),
            "has_partial": hasattr(self, "partial"),
            "keep": self.keep,
            "safe_error": self.safe_error,
            "value": self.value,
        }


class Slow(FlowSpec):
    """@catch handles a timeout of the last attempt, as Metaflow's @timeout + @catch do."""

    @catch(var="timeout_error")
    @timeout(seconds=2)
    @step
    def start(self):
        self.before = "set before sleeping"
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.timeout_error.type, self.timeout_error.exception, self.before)


class Empty(FlowSpec):
    """A foreach over an empty list fails the step that splits."""

    @step
    def start(self):
        self.items = []
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class Broken(FlowSpec):
    """A step that forgets self.next(...)."""

    @step
    def start(self):
        self.x = 1

    @step
    def end(self):
        pass
