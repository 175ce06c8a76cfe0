"""A switch on an attribute the step computes; the cases go straight to end."""

from metaflow import FlowSpec, Parameter, step


class SwitchComputedFlow(FlowSpec):
    threshold = Parameter("threshold", default=5, type=int, help="sum above which the route is big")

    @step
    def start(self):
        self.values = [1, 2, 3]
        self.route = "big" if sum(self.values) > self.threshold else "small"
        self.next({"big": self.big, "small": self.small}, condition="route")

    @step
    def big(self):
        self.note = f"big: {sum(self.values)} > {self.threshold}"
        self.next(self.end)

    @step
    def small(self):
        self.note = f"small: {sum(self.values)} <= {self.threshold}"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"route": self.route, "note": self.note, "values": self.values}


if __name__ == "__main__":
    SwitchComputedFlow()
