"""Metaflow 2.19's own first and last steps: ``@step(start=True)`` and ``@step(end=True)`` on
steps named otherwise."""

from metaflow import FlowSpec, Parameter, step


class StartEndFlow(FlowSpec):
    n = Parameter("n", default=2)

    @step(start=True)
    def begin(self):
        self.values = list(range(self.n))
        self.next(self.square, foreach="values")

    @step
    def square(self):
        self.sq = self.input**2
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.summary = {"total": self.total}


if __name__ == "__main__":
    StartEndFlow()
