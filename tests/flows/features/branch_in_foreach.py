"""Static branches and their join inside a foreach."""

from stepc import FlowSpec, step


class PerItemBranches(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.split, foreach="xs")

    @step
    def split(self):
        self.x = self.input
        self.next(self.double, self.square)

    @step
    def double(self):
        self.d = self.x * 2
        self.next(self.meet)

    @step
    def square(self):
        self.s = self.x**2
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.pair = (inputs.double.d, inputs.square.s)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
