"""A class-dialect flow on real Metaflow classes: its FlowSpec's own input/index/next machinery
must give way to stepc's at run time."""

from metaflow import FlowSpec, Parameter, catch, step


class MetaSweep(FlowSpec):
    scale = Parameter("factor", default=2)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.offset = 100
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.product = self.input * self.scale + self.offset
        self.where = (self.index, self.foreach_stack())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.products = [i.product for i in inputs]
        self.wheres = [i.where for i in inputs]
        self.merge_artifacts(inputs, exclude=["product", "where"])
        self.mode = "big" if sum(self.products) > 310 else "small"
        self.next({"big": self.big, "small": self.small}, condition="mode")

    @step
    def big(self):
        self.label = "big"
        self.next(self.end)

    @step
    def small(self):
        self.label = "small"
        self.next(self.end)

    @catch(var="end_error")
    @step
    def end(self):
        self.total = (self.label, sum(self.products), self.offset, self.missing_attribute)
