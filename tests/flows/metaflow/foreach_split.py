"""Static branches inside a foreach: every item splits in two, the branches join per item,
then the foreach joins; self.input holds in the branches."""

from metaflow import FlowSpec, step


class ForeachSplitFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [2, 5, 7]
        self.next(self.each, foreach="xs")

    @step
    def each(self):
        self.base = self.input + 1
        self.next(self.left, self.right)

    @step
    def left(self):
        self.l = self.base * 2 + self.index
        self.next(self.meet)

    @step
    def right(self):
        self.r = self.base - self.input
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.pair = (inputs.left.l, inputs.right.r)
        self.merge_artifacts(inputs, include=["base"])
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.bases = [i.base for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"pairs": self.pairs, "bases": self.bases}


if __name__ == "__main__":
    ForeachSplitFlow()
