"""``self.name``: Metaflow's FlowSpec gives every step the flow's name."""

from metaflow import FlowSpec, step


class FlowNameFlow(FlowSpec):
    @step
    def start(self):
        self.started_in = self.name
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"start": self.started_in, "end": self.name}


if __name__ == "__main__":
    FlowNameFlow()
