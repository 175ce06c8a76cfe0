"""Switches on non-string values: int keys on a computed parity, then bool keys on a comparison,
one switch right after the other's cases meet."""

from metaflow import FlowSpec, Parameter, step


class SwitchKeysFlow(FlowSpec):
    n = Parameter("n", default=3, type=int, help="odd or even, and large above 2")

    @step
    def start(self):
        self.parity = self.n % 2
        self.next({0: self.even, 1: self.odd}, condition="parity")

    @step
    def even(self):
        self.word = "even"
        self.next(self.check)

    @step
    def odd(self):
        self.word = "odd"
        self.next(self.check)

    @step
    def check(self):
        self.big = self.n > 2
        self.next({True: self.large, False: self.small}, condition="big")

    @step
    def large(self):
        self.size = "large"
        self.next(self.end)

    @step
    def small(self):
        self.size = "small"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"word": self.word, "size": self.size, "parity": self.parity, "big": self.big}


if __name__ == "__main__":
    SwitchKeysFlow()
