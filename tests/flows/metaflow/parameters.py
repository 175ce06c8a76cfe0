"""Parameters as real flows declare them: a name that differs from the attribute (``-p
creature=`` sets ``self.animal``), JSONType with a JSON string default, a list given with
``separator=``, and ``merge_artifacts(include=[...])`` naming a Parameter and an attribute set
before the foreach. A switch on a renamed parameter reads it by its attribute."""

from metaflow import FlowSpec, JSONType, Parameter, step


class ParametersFlow(FlowSpec):
    animal = Parameter("creature", default="dog", help="read as self.animal")
    config = Parameter("config", type=JSONType, default='{"depth": 2, "names": ["a", "b"]}')
    colors = Parameter("colors", default="red, green", separator=",")
    mode = Parameter("run-mode", default="fast")

    @step
    def start(self):
        self.base = len(self.animal)
        self.items = list(range(self.config["depth"]))
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.part = self.input * self.base
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, include=["base", "animal"])
        self.parts = [i.part for i in inputs]
        self.next(self.pick)

    @step
    def pick(self):
        self.next({"fast": self.quick, "slow": self.careful}, condition="mode")

    @step
    def quick(self):
        self.how = "quick"
        self.next(self.end)

    @step
    def careful(self):
        self.how = "careful"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "animal": self.animal,
            "base": self.base,
            "parts": self.parts,
            "config": self.config,
            "colors": list(self.colors),
            "how": self.how,
        }
        print("summary", self.summary)


if __name__ == "__main__":
    ParametersFlow()
