"""A foreach inside a foreach."""

from stepc import FlowSpec, step


class Nested(FlowSpec):
    @step
    def start(self):
        self.groups = [[1, 2], [3]]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.members = list(self.input)
        self.next(self.inner, foreach="members")

    @step
    def inner(self):
        self.value = self.input * 10
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.table = [i.values for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
