"""An existing Metaflow flow, read as it is: static branch, merge_artifacts, foreach, a switch on
a computed attribute, @retry and @catch."""
from metaflow import FlowSpec, Parameter, catch, resources, retry, step


class ModelSelectionFlow(FlowSpec):
    """Pick a model family, tune it over a grid, and publish or report."""

    threshold = Parameter("threshold", default=0.5, help="score needed to publish")
    seed = Parameter("seed", type=int, default=7)

    @step
    def start(self):
        self.rows = [[(self.seed * i) % 10 / 10, i % 2] for i in range(20)]
        self.next(self.linear, self.tree)

    @step
    def linear(self):
        self.family = "linear"
        self.grid = [0.01, 0.1, 1.0]
        self.next(self.pick)

    @step
    def tree(self):
        self.family = "tree"
        self.grid = [2, 4]
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.families = sorted(i.family for i in inputs)
        self.grid = inputs.linear.grid
        self.merge_artifacts(inputs, exclude=["family", "grid"])
        self.next(self.sweep)

    @step
    def sweep(self):
        self.next(self.tune, foreach="grid")

    @retry(times=1, minutes_between_retries=0)
    @resources(cpu=1, memory=512)
    @step
    def tune(self):
        index, count, value = self.foreach_stack()[0]
        positives = sum(label for _, label in self.rows)
        self.score = round(positives / len(self.rows) * (1 + self.input) / (1 + index + count), 4)
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.best = max(i.score for i in inputs)
        self.merge_artifacts(inputs, include=["families"])
        self.next(self.decide)

    @step
    def decide(self):
        self.verdict = "publish" if self.best >= self.threshold else "report"
        self.next({"publish": self.publish, "report": self.report}, condition="verdict")

    @catch(var="publish_error")
    @step
    def publish(self):
        self.destination = f"models/{self.best}"
        self.next(self.end)

    @step
    def report(self):
        self.destination = "reports/latest"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"families": self.families, "best": self.best, "destination": self.destination}
