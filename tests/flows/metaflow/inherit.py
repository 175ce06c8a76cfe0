"""Artifacts inherited over several steps (set once, overwritten, added to), Parameters of several
types read in different steps, and @timeout/@resources, which must not change any result."""

from metaflow import FlowSpec, Parameter, resources, step, timeout


class InheritFlow(FlowSpec):
    name_prefix = Parameter("name_prefix", default="run", type=str, help="a text parameter")
    count = Parameter("count", default=2, type=int, help="an integer parameter")
    ratio = Parameter("ratio", default=0.25, type=float, help="a float parameter")
    verbose = Parameter("verbose", default=False, type=bool, help="a boolean parameter")

    @step
    def start(self):
        self.history = ["start"]
        self.constant = {"set": "in start", "nested": [1, (2, 3)]}
        self.counter = 0
        # Values JSON cannot hold as they are: both engines must give them back with their types.
        self.kinds = {
            "set": {1, 2},
            "frozenset": frozenset("ab"),
            "bytes": b"ab",
            "none": None,
            "tuple": (1, "a", (2.0,)),
            "float": 2.0,
            "big": 2**70,
            "int_keys": {1: "one", 2: "two"},
        }
        self.next(self.first)

    @timeout(minutes=2)
    @step
    def first(self):
        self.history = self.history + ["first"]
        self.counter += self.count
        self.label = f"{self.name_prefix}-{self.counter}"
        self.next(self.second)

    @resources(cpu=1, memory=256)
    @step
    def second(self):
        self.history = self.history + ["second"]
        self.counter *= 10
        self.scaled = self.counter * self.ratio
        self.next(self.third)

    @timeout(seconds=90)
    @resources(cpu=1, memory=256, gpu=0)
    @step
    def third(self):
        self.history = self.history + ["third"]
        self.flags = {"verbose": self.verbose, "label_upper": self.label.upper()}
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "history": self.history,
            "constant": self.constant,
            "counter": self.counter,
            "label": self.label,
            "scaled": self.scaled,
            "flags": self.flags,
            "kinds": self.kinds,
            "params": [self.name_prefix, self.count, self.ratio, self.verbose],
        }


if __name__ == "__main__":
    InheritFlow()
