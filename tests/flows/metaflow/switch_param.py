"""A switch on a Parameter: each case sets its own artifacts, and both lead to one step."""

from metaflow import FlowSpec, Parameter, step


class SwitchParamFlow(FlowSpec):
    mode = Parameter("mode", default="fast", type=str, help="which branch the switch takes")

    @step
    def start(self):
        self.trail = ["start"]
        self.next({"fast": self.fast, "slow": self.slow}, condition="mode")

    @step
    def fast(self):
        self.trail = self.trail + ["fast"]
        self.speed = 10
        self.next(self.after)

    @step
    def slow(self):
        self.trail = self.trail + ["slow"]
        self.speed = 1
        self.next(self.after)

    @step
    def after(self):
        self.trail = self.trail + ["after"]
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"trail": self.trail, "speed": self.speed, "mode": self.mode}


if __name__ == "__main__":
    SwitchParamFlow()
