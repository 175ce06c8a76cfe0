"""A step that fails on every attempt: @retry(times=2) runs it three times, then the run fails."""

from metaflow import FlowSpec, retry, step


class AlwaysFailsFlow(FlowSpec):
    @step
    def start(self):
        self.tries = 0
        self.next(self.doomed)

    @retry(times=2, minutes_between_retries=0)
    @step
    def doomed(self):
        self.tries += 1
        raise RuntimeError(f"attempt fails ({self.tries} in this process)")
        self.next(self.end)  # never reached

    @step
    def end(self):
        self.summary = {"tries": self.tries}


if __name__ == "__main__":
    AlwaysFailsFlow()
