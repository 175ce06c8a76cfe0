"""A class-dialect flow with a switch on an attribute a step computes.

``route`` sets ``self.mode`` from the ``choice`` parameter; ``fit`` runs when it is "train",
``describe`` when it is "report", and ``end`` takes ``result`` from whichever branch ran (one
input name from two producers). ``fit`` retries and catches its failure (``fail_fit``).
"""

from stepc import FlowSpec, Parameter, catch, retry, step


class Switch(FlowSpec):
    choice = Parameter("choice", default="train", help="the branch to take: train or report")
    fail_fit = Parameter("fail_fit", default=False, help="make every attempt of fit fail")

    @step
    def start(self):
        self.values = [1, 2, 3]
        self.next(self.route)

    @step
    def route(self):
        self.mode = self.choice
        self.next({"train": self.fit, "report": self.describe}, condition="mode")

    @catch(var="fit_error")
    @retry(times=2, minutes_between_retries=0)
    @step
    def fit(self):
        if self.fail_fit:
            raise RuntimeError("fit failed on purpose")
        self.result = sum(self.values) / len(self.values)
        self.next(self.end)

    @step
    def describe(self):
        self.result = max(self.values)
        self.next(self.end)

    @step
    def end(self):
        try:
            result = self.result
        except AttributeError:  # fit failed and @catch stored the error instead
            result = None
        self.summary = {"mode": self.mode, "result": result}
