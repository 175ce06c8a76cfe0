"""A switch decided for each foreach item."""

from stepc import FlowSpec, step


class PerItemSwitch(FlowSpec):
    @step
    def start(self):
        self.xs = [3, 8]
        self.next(self.classify, foreach="xs")

    @step
    def classify(self):
        self.kind = "big" if self.input > 5 else "small"
        self.next({"big": self.shrink, "small": self.grow}, condition="kind")

    @step
    def shrink(self):
        self.result = self.input // 2
        self.next(self.tally)

    @step
    def grow(self):
        self.result = self.input * 3
        self.next(self.tally)

    @step
    def tally(self):
        self.row = (self.index, self.result)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.rows = [i.row for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
