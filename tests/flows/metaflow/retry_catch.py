"""@retry: a step that fails on its first attempt (a marker file whose path is a Parameter, so
both engines see the same thing) and succeeds when retried. @catch(var=): a step that always
raises (retried once first: @catch takes over after the last attempt), a step that does not, and
what the steps after them see, also when the exception is a @timeout."""

import os
import time

from metaflow import FlowSpec, Parameter, catch, resources, retry, step, timeout


class RetryCatchFlow(FlowSpec):
    marker = Parameter("marker", default="", type=str, help="created by the first attempt of flaky")

    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @catch(var="flaky_err")
    @timeout(seconds=120)
    @resources(cpu=1, memory=512)
    @step
    def flaky(self):
        if not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write("first attempt\n")
            raise RuntimeError("first attempt fails")
        self.trained = 42
        self.next(self.risky)

    @retry(times=1, minutes_between_retries=0)
    @catch(var="err")
    @step
    def risky(self):
        self.value = self.trained + 1
        raise ValueError(f"always fails after {self.value}")
        self.next(self.safe)  # never reached: @catch continues to safe

    @catch(var="safe_err")
    @step
    def safe(self):
        self.caught = self.err is not None
        # Set by risky before it raised: Metaflow saves the flow object @catch handled.
        self.value_seen = self.value
        self.next(self.slow)

    @catch(var="slow_err")
    @timeout(seconds=1)
    @step
    def slow(self):
        self.before_timeout = "set before the timeout"
        time.sleep(6)
        self.after_timeout = "never set"
        self.next(self.bare)

    @catch
    @step
    def bare(self):
        self.bare_before = "set before a @catch without var"
        raise KeyError("not stored anywhere")
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "trained": self.trained,
            "caught": self.caught,
            "safe_err": self.safe_err,
            "value_seen": self.value_seen,
            # Which exception class a timeout raises is each engine's own: compare that it was caught.
            "timed_out": self.slow_err is not None,
            "before_timeout": self.before_timeout,
            # @catch on a step whose retry succeeded: no exception to keep.
            "flaky_err": self.flaky_err,
            "bare_before": self.bare_before,
        }
        self.last_err = self.err
        # A dynamic read of an artifact that reaches end (risky set it before raising).
        self.value_via_getattr = getattr(self, "value", "unset")


if __name__ == "__main__":
    RetryCatchFlow()
