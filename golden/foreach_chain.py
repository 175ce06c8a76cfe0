"""A foreach that runs a chain of two steps per item, then joins: each step reads the matching
item of the one before, and self.input, self.index and foreach_stack() hold in both."""

from metaflow import FlowSpec, Parameter, step


class ChainFlow(FlowSpec):
    offset = Parameter("offset", default=10)

    @step
    def start(self):
        self.base = 100
        self.items = [1, 2, 3]
        self.next(self.first, foreach="items")

    @step
    def first(self):
        self.doubled = self.input * 2
        self.next(self.second)

    @step
    def second(self):
        self.total = self.doubled + self.offset + self.base
        self.where = (self.index, self.input, [tuple(f[:2]) for f in self.foreach_stack()])
        self.next(self.join)

    @step
    def join(self, inputs):
        self.totals = [i.total for i in inputs]
        self.wheres = [i.where for i in inputs]
        self.doubles = [i.doubled for i in inputs]
        self.merge_artifacts(inputs, include=["base"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"totals": self.totals, "wheres": self.wheres, "doubles": self.doubles, "base": self.base}
