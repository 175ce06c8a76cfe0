"""Engine settings and secrets on a step of a flow class: stepc's @engine decorator."""

from stepc import FlowSpec, engine, step


class EngineFlow(FlowSpec):
    @engine(
        argo={"tolerations": [{"key": "gpu", "operator": "Exists"}], "labels": {"app": "demo"}},
        airflow={"queue": "highmem"},
        gha={"environment": "production"},
        valohai={"environment": "aws-eu-west-1-r5-2xlarge"},
        secrets=["API_TOKEN"],
    )
    @step
    def start(self):
        self.rows = [1, 2]
        self.next(self.end)

    @step
    def end(self):
        print(self.rows)
