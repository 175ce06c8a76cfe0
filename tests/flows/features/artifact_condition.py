"""A condition on an upstream artifact: a switch on an attribute the step before sets."""

from stepc import FlowSpec, step


class Route(FlowSpec):
    @step
    def start(self):
        self.mode = "fit"
        self.next({"fit": self.fit, "skip": self.skip}, condition="mode")

    @step
    def fit(self):
        self.next(self.end)

    @step
    def skip(self):
        self.next(self.end)

    @step
    def end(self):
        pass
