"""A foreach: self.input, self.index, self.foreach_stack(), the whole list in the item step, and a
join that iterates inputs (in item order) and merges what every item carries unchanged."""

from metaflow import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    n = Parameter("n", default=3, type=int, help="how many items")
    offset = Parameter("offset", default=0.5, type=float, help="added to every score")

    @step
    def start(self):
        self.items = [f"item{i}" for i in range(self.n)]
        self.carried = {"k": [1, 2]}
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.label = f"{self.index}:{self.input}"
        self.stack = self.foreach_stack()
        self.score = self.index * 2 + self.offset
        self.whole = len(self.items)
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.labels = [i.label for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.total = sum(i.score for i in inputs)
        self.first = inputs[0].label
        # Every item's view also carries what was set before the split.
        self.carried_per_item = [i.carried for i in inputs]
        self.merge_artifacts(inputs, exclude=["label", "stack", "score"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "labels": self.labels,
            "stacks": self.stacks,
            "total": self.total,
            "items": self.items,
            "carried": self.carried,
            "whole": self.whole,
            "first": self.first,
            "carried_per_item": self.carried_per_item,
        }


if __name__ == "__main__":
    ForeachFlow()
