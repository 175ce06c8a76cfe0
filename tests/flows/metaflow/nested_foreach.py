"""A foreach inside a foreach: foreach_stack() holds both levels in the innermost step, and
self.input and self.index are the inner item's; each join closes the innermost foreach."""

from metaflow import FlowSpec, Parameter, step


class NestedForeachFlow(FlowSpec):
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        self.groups = [[1, 2], [3], [4, 5, 6]]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.members = [m * self.scale for m in self.input]
        self.label = f"g{self.index}"
        self.next(self.inner, foreach="members")

    @step
    def inner(self):
        self.value = self.input * 10 + self.index
        self.stack = [tuple(f[:2]) for f in self.foreach_stack()]
        self.where = (self.label, self.index)
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.values = [i.value for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.merge_artifacts(inputs, include=["label"])
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.table = [(i.label, i.values) for i in inputs]
        self.stacks = [s for i in inputs for s in i.stacks]
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"table": self.table, "stacks": self.stacks}


if __name__ == "__main__":
    NestedForeachFlow()
