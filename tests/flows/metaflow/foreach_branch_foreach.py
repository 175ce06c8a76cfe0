"""A foreach inside a branch inside a foreach: each outer item splits in two, one branch fans
out again over its own list; the inner foreach joins, then the branches, then the outer loop."""

from metaflow import FlowSpec, step


class ForeachBranchForeachFlow(FlowSpec):
    @step
    def start(self):
        self.words = ["ab", "cde"]
        self.next(self.word, foreach="words")

    @step
    def word(self):
        self.letters = list(self.input)
        self.next(self.spell, self.measure)

    @step
    def spell(self):
        self.next(self.letter, foreach="letters")

    @step
    def letter(self):
        self.code = (self.input.upper(), [tuple(f[:2]) for f in self.foreach_stack()])
        self.next(self.join_letters)

    @step
    def join_letters(self, inputs):
        self.codes = [i.code for i in inputs]
        self.next(self.meet)

    @step
    def measure(self):
        self.size = len(self.letters) * 100 + self.index
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.entry = (inputs.measure.size, inputs.join_letters.codes)
        self.next(self.join_words)

    @step
    def join_words(self, inputs):
        self.entries = [i.entry for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"entries": self.entries}


if __name__ == "__main__":
    ForeachBranchForeachFlow()
