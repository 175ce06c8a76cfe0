"""A recursive switch: a step whose switch goes back to itself until its case says done.
Each pass is a new task that sees the attributes the pass before it set; the step after the
loop sees the last pass's."""

from metaflow import FlowSpec, Parameter, step


class RecursiveSwitchFlow(FlowSpec):
    limit = Parameter("limit", default=3, type=int, help="how many passes the loop makes")

    @step
    def start(self):
        self.count = 0
        self.history = []
        self.label = "from start"
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.history = self.history + [self.count * 10]
        self.case = "again" if self.count < self.limit else "done"
        self.next({"again": self.loop, "done": self.after}, condition="case")

    @step
    def after(self):
        self.total = sum(self.history)
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "count": self.count,
            "history": self.history,
            "total": self.total,
            "label": self.label,
            "case": self.case,
        }


if __name__ == "__main__":
    RecursiveSwitchFlow()
