"""Static fan-out and joins: merge_artifacts (plain, exclude=, include=), inputs.<step>.<attr>,
iterating inputs, and an artifact the join sets before merging (merge must not overwrite it)."""

from metaflow import FlowSpec, Parameter, step


class BranchFlow(FlowSpec):
    scale = Parameter("scale", default=3, type=int, help="multiplies the left branch")

    @step
    def start(self):
        self.base = 5
        self.shared = "from start"
        self.kept = "from start too"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.value = self.base * self.scale
        self.side = "left"
        self.common = 10
        self.only_left = "set in one branch only"
        self.next(self.join)

    @step
    def right(self):
        self.value = self.base + self.scale
        self.side = "right"
        self.common = 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.left_value = inputs.left.value
        self.right_value = inputs.right.value
        self.sides = sorted(i.side for i in inputs)
        # Set before merging: merge_artifacts leaves an artifact the join already set alone.
        self.kept = "set in join"
        self.merge_artifacts(inputs, exclude=["value", "side"])
        self.merged = {
            "shared": self.shared,
            "kept": self.kept,
            "common": self.common,
            "only_left": self.only_left,
        }
        self.next(self.middle)

    @step
    def middle(self):
        # A join cannot also split: a plain step between them.
        self.base = self.base + 1
        self.next(self.up, self.down)

    @step
    def up(self):
        self.x = 1
        self.y = "up"
        self.value = self.left_value + 1
        self.next(self.join2)

    @step
    def down(self):
        self.x = 1
        self.y = "down"
        self.value = self.right_value - 1
        self.next(self.join2)

    @step
    def join2(self, inputs):
        # The documented way to resolve a conflict: set the artifact, then merge the rest.
        self.value = max(i.value for i in inputs)
        self.ys = [inputs.up.y, inputs.down.y]
        self.merge_artifacts(inputs, include=["x", "base", "merged"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "base": self.base,
            "x": self.x,
            "value": self.value,
            "ys": self.ys,
            "scale": self.scale,
        }
        self.merged_seen = self.merged
        # What reached end through join2's include=: literal and computed names.
        self.presence = {
            "merged": hasattr(self, "merged"),
            "shared": hasattr(self, "shared"),
            "side": hasattr(self, "side"),
            "y": hasattr(self, "y"),
        }
        self.dynamic = sorted(n for n in ("base", "kept", "only_left", "value") if hasattr(self, n))


if __name__ == "__main__":
    BranchFlow()
