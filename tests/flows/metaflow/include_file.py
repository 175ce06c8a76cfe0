"""IncludeFile: the parameter names a file, the steps read its content (text, or bytes with
``is_text=False``); ``--data PATH`` / ``-p data=PATH`` chooses another file."""

from metaflow import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    data = IncludeFile("data", default="include_data.csv", help="a small csv")
    raw = IncludeFile("raw", default="include_data.csv", is_text=False)

    @step
    def start(self):
        self.rows = [line.split(",") for line in self.data.splitlines()[1:]]
        self.size = len(self.raw)
        self.kind = type(self.raw).__name__
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"rows": self.rows, "size": self.size, "kind": self.kind, "text": type(self.data).__name__}
        print("rows", len(self.rows))


if __name__ == "__main__":
    IncludeFileFlow()
