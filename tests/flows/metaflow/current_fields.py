"""``metaflow.current`` in every step: the flow and step names, the retry count of a retried
task, the parameter names, whether a flow runs, and task ids that differ between foreach items.
The retried step fails once (a marker file named by a Parameter, so both engines see it)."""

import os

from metaflow import FlowSpec, Parameter, current, retry, step


class CurrentFieldsFlow(FlowSpec):
    marker = Parameter("marker", default="", help="created by the first attempt of flaky")
    alpha = Parameter("alpha", default=3)

    @step
    def start(self):
        self.first = [current.flow_name, current.step_name, current.retry_count, current.is_running_flow]
        self.names = sorted(current.parameter_names)
        flow, run, step_name, task = current.pathspec.split("/")
        self.pathspec = [flow == current.flow_name, run == current.run_id, step_name, task == current.task_id]
        self.items = ["a", "b", "c"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.task = current.task_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.distinct = len({i.task for i in inputs})
        self.merge_artifacts(inputs, include=["first", "names", "pathspec"])
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write("first attempt\n")
            raise RuntimeError("first attempt fails")
        self.retried = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "first": self.first,
            "names": self.names,
            "pathspec": self.pathspec,
            "distinct": self.distinct,
            "retried": self.retried,
            "end": current.step_name,
        }


if __name__ == "__main__":
    CurrentFieldsFlow()
