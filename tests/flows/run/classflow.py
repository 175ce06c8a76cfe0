"""A class-dialect flow (Metaflow style) for the interpreter, with its own stand-in base class."""


class FlowSpec:
    pass


class Sweep(FlowSpec):
    def start(self):
        self.values = [1, 2, 3]
        self.next(self.square, self.cube)

    def square(self):
        self.squares = [v * v for v in self.values]
        self.next(self.merge)

    def cube(self):
        self.cubes = [v**3 for v in self.values]
        self.next(self.merge)

    def merge(self, inputs):
        self.pairs = list(zip(inputs.square.squares, inputs.cube.cubes, strict=True))
        self.next(self.score, foreach="pairs")

    def score(self):
        s, c = self.input
        assert self.pairs[self.index] == self.input
        self.score_value = (s + c) * self.alpha
        self.next(self.gather)

    def gather(self, inputs):
        self.total = sum(i.score_value for i in inputs)
        self.next(self.end)

    def end(self):
        self.result = self.total
