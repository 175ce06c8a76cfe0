"""A switch whose case goes back to its own step: each pass is a new task."""

from stepc import FlowSpec, step


class Recursive(FlowSpec):
    @step
    def start(self):
        self.n = 0
        self.next(self.grow)

    @step
    def grow(self):
        self.n += 1
        self.state = "again" if self.n < 3 else "done"
        self.next({"again": self.grow, "done": self.end}, condition="state")

    @step
    def end(self):
        pass
