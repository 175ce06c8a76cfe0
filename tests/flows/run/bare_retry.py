"""A bare @retry (Metaflow's 2 minutes between attempts): the first attempt fails once."""

import os
from pathlib import Path

from metaflow import FlowSpec, retry, step


class BareRetryFlow(FlowSpec):
    @retry
    @step
    def start(self):
        marker = Path(os.environ["STEPC_TEST_MARKER"])
        if not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError("the first attempt fails")
        self.attempts = 2
        self.next(self.end)

    @step
    def end(self):
        pass
