"""A foreach inside one branch of a static fan-out, then a second foreach over tuples: join
views by step name, merge_artifacts(include=) across a foreach join, foreach_stack() again."""

from metaflow import FlowSpec, step


class ForeachBranchesFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2, 3]
        self.tag = "t"
        self.next(self.fan, self.side)

    @step
    def fan(self):
        self.next(self.square, foreach="xs")

    @step
    def square(self):
        self.sq = self.input**2
        self.next(self.join_fan)

    @step
    def join_fan(self, inputs):
        self.sqs = [i.sq for i in inputs]
        self.merge_artifacts(inputs, exclude=["sq"])
        self.next(self.join)

    @step
    def side(self):
        self.total = sum(self.xs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sqs = inputs.join_fan.sqs
        self.total = inputs.side.total
        self.merge_artifacts(inputs, include=["tag", "xs"])
        self.next(self.pairs_step)

    @step
    def pairs_step(self):
        self.pairs = [(x, x * 10) for x in self.sqs]
        self.next(self.pair, foreach="pairs")

    @step
    def pair(self):
        a, b = self.input
        self.s = a + b + self.index
        self.stack = self.foreach_stack()
        self.next(self.join_pairs)

    @step
    def join_pairs(self, inputs):
        self.sums = [i.s for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.merge_artifacts(inputs, include=["total", "tag", "pairs"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "sums": self.sums,
            "stacks": self.stacks,
            "total": self.total,
            "tag": self.tag,
            "pairs": self.pairs,
        }


if __name__ == "__main__":
    ForeachBranchesFlow()
