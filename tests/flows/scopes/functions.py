"""The function dialect's foreach scopes: the equivalents of the oracle flows
nested_foreach.py, foreach_split.py and foreach_branch_foreach.py (tests/flows/metaflow/), which must end with the same
summary as Metaflow's runs of those. Functions have no ``self.index``, so the lists carry
their positions."""

from stepc import pipeline, step

# --- a foreach inside a foreach (NestedForeachFlow) ------------------------------------------


@step(outputs=["groups"])
def nest_start():
    raw = [[1, 2], [3], [4, 5, 6]]
    return [{"i": i, "n": len(raw), "members": members} for i, members in enumerate(raw)]


@step(inputs=["groups"], outputs=["members", "label"], foreach="groups")
def outer(groups, scale: int = 1):
    members = [m * scale for m in groups["members"]]
    at = (groups["i"], groups["n"])
    return [{"at": at, "j": j, "n": len(members), "m": m} for j, m in enumerate(members)], f"g{groups['i']}"


@step(inputs=["members"], outputs=["value", "stack"], foreach="members", nested=True)
def inner(members):
    return members["m"] * 10 + members["j"], [members["at"], (members["j"], members["n"])]


# A chained map of `outer`: one task per outer item, which gets that item's inner results.
@step(inputs=["label", "value", "stack"], outputs=["row", "stacks"], foreach="label")
def join_inner(label, value, stack):
    return (label, value), stack


@step(inputs=["row", "stacks"], outputs=["summary"])
def nest_end(row, stacks):
    return {"table": row, "stacks": [s for per_item in stacks for s in per_item]}


pipeline("nested", steps=[nest_start, outer, inner, join_inner, nest_end])

# --- static branches inside a foreach (ForeachSplitFlow) -------------------------------------


@step(outputs=["xs"])
def split_start():
    return [{"i": i, "x": x} for i, x in enumerate([2, 5, 7])]


@step(inputs=["xs"], outputs=["base"], foreach="xs")
def each(xs):
    return {"i": xs["i"], "x": xs["x"], "base": xs["x"] + 1}


@step(inputs=["base"], outputs=["l"], foreach="base")
def left(base):
    return base["base"] * 2 + base["i"]


@step(inputs=["base"], outputs=["r"], foreach="base")
def right(base):
    return base["base"] - base["x"]


# Inside one foreach every input is the matching item: `r` is this item's, not the list.
@step(inputs=["l", "r", "base"], outputs=["pair", "kept"], foreach="l")
def meet(l, r, base):  # noqa: E741
    return (l, r), base["base"]


@step(inputs=["pair", "kept"], outputs=["summary"])
def split_end(pair, kept):
    return {"pairs": pair, "bases": kept}


pipeline("split", steps=[split_start, each, left, right, meet, split_end])

# --- a foreach inside a branch inside a foreach (ForeachBranchForeachFlow) -------------------


@step(outputs=["words"])
def bf_start():
    raw = ["ab", "cde"]
    return [{"i": i, "n": len(raw), "w": w} for i, w in enumerate(raw)]


@step(inputs=["words"], outputs=["letters", "at"], foreach="words")
def word(words):
    letters = list(words["w"])
    return [{"j": j, "n": len(letters), "c": c} for j, c in enumerate(letters)], (words["i"], words["n"])


# One branch of each word fans out again; `at` is the enclosing word's.
@step(inputs=["letters", "at"], outputs=["code"], foreach="letters", nested=True)
def letter(letters, at):
    return letters["c"].upper(), [at, (letters["j"], letters["n"])]


@step(inputs=["at", "code"], outputs=["codes"], foreach="at")
def join_letters(at, code):
    return code


# The other branch of each word.
@step(inputs=["letters", "at"], outputs=["size"], foreach="at")
def measure(letters, at):
    return len(letters) * 100 + at[0]


@step(inputs=["size", "codes"], outputs=["entry"], foreach="size")
def meet_word(size, codes):
    return size, codes


@step(inputs=["entry"], outputs=["summary"])
def bf_end(entry):
    return {"entries": entry}


pipeline("branch_foreach", steps=[bf_start, word, letter, join_letters, measure, meet_word, bf_end])
