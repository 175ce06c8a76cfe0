"""merge_artifacts with an artifact whose value differs between the branches and that the join
neither set nor excluded: Metaflow fails the join (UnhandledInMergeArtifactsException)."""

from metaflow import FlowSpec, step


class MergeConflictFlow(FlowSpec):
    @step
    def start(self):
        self.same = "everywhere"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.differs = "a"
        self.next(self.join)

    @step
    def b(self):
        self.differs = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"same": self.same, "differs": self.differs}


if __name__ == "__main__":
    MergeConflictFlow()
