"""Every diagnostic of SPEC §4: its code, the exact line and column of the offending argument or
name (never the decorator's), and a message that says what to do.

Each case is a small flow and the unique snippet the diagnostic must point at; the expected
line and column are where that snippet starts in the source (plus ``shift`` characters, to
point inside a string).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from stepc.diagnostics import CODES, Diagnostic
from stepc.frontend import load, read_file
from tests.test_class_dialect import CLASS_CASES

HEAD = "from stepc import pipeline, step\n\n"


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    code: str
    at: str  # a snippet that occurs exactly once in the source
    says: tuple[str, ...] = ()  # fragments the message must contain
    shift: int = 0
    severity: str = "error"


def expected_place(source: str, at: str, shift: int) -> tuple[int, int]:
    assert source.count(at) == 1, f"{at!r} must occur once in the case's source"
    index = source.index(at) + shift
    line = source.count("\n", 0, index) + 1
    col = index - (source.rfind("\n", 0, index) + 1) + 1
    return line, col


def write(tmp_path: Path, source: str, name: str = "flow.py") -> str:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return str(path)


def diagnose(tmp_path: Path, source: str) -> list[Diagnostic]:
    diagnostics = list(read_file(write(tmp_path, source)).diagnostics)
    assert not [d for d in diagnostics if d.code == "S004"], diagnostics
    return diagnostics


def flow(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


CASES = [
    # -- S140-S143: mistakes that would otherwise show only when the run gets there --------------
    Case(
        "parameter-named-like-an-output",
        flow("""
            @step(outputs=["data"])
            def load():
                return [1]

            @step(outputs=["model"])
            def train(data):
                return len(data)
        """),
        "S140", "data):", ("add inputs=['data']",),
    ),
    Case(
        "returns-another-number-of-values",
        flow("""
            @step(outputs=["a", "b"])
            def load():
                return 1, 2, 3
        """),
        "S141", "return 1, 2, 3", ("returns 3 values here, but declares 2 outputs",),
    ),
    Case(
        "outputs-and-no-return",
        flow("""
            @step(outputs=["a"])
            def load():
                a = 1
        """),
        "S141", "load():", ("never returns a value",),
    ),
    Case(
        "rollback-rejects-the-outputs",
        flow("""
            def undo(model):
                pass

            @step(outputs=["a"], rollback=undo)
            def load():
                return 1
        """),
        "S142", "undo)", ("takes no 'a'",),
    ),
    Case(
        "condition-compares-types-that-never-match",
        flow("""
            @step(outputs=["a"], when="epochs > '3'")
            def load(epochs: int = 3):
                return 1
        """),
        "S143", "epochs >", ("an int parameter, with '3'",),
    ),
    Case(
        "bare-condition-on-a-str-parameter",
        flow("""
            @step(outputs=["a"], when="flag")
            def load(flag: str = "no"):
                return 1
        """),
        "S143", "flag\"", ("a bare name in a condition tests a bool",),
    ),
    # -- S150 imports of the project's own modules (more in test_modules.py) --------------------
    Case(
        "relative-import-in-a-flow-outside-a-package",
        flow("""
            from .shared_steps import clean

            pipeline("p", steps=[clean])
        """),
        "S150", "shared_steps", ("'.shared_steps' is a relative import", "not in a package"),
    ),
    # -- S101 unknown arguments -------------------------------------------------------------------
    Case(
        "unknown-step-argument",
        flow("""
            @step(outputs=["a"], retires=2)
            def a():
                return 1
        """),
        "S101", "retires", ("unknown argument 'retires' of @step", "did you mean 'retry'?"),
    ),
    Case(
        "positional-step-argument",
        flow("""
            @step(["a"])
            def a():
                return 1
        """),
        "S101", '["a"]', ("keyword arguments",),
    ),
    Case(
        "unknown-pipeline-argument",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a], shedule="0 3 * * *")
        """),
        "S101", "shedule", ("unknown argument 'shedule' of pipeline()", "did you mean 'schedule'?"),
    ),
    Case(
        "unknown-retry-setting",
        flow("""
            @step(retry={"times": 2, "dealy": 5})
            def a():
                return 1
        """),
        "S101", '"dealy"', ("unknown retry setting 'dealy'", "did you mean 'delay'?"),
    ),
    Case(
        "params-names-unknown-parameter",
        flow("""
            @step
            def a(learning_rate: float = 0.1):
                return 1

            pipeline("p", steps=[a], params={"learning_rat": 0.2})
        """),
        "S101", '"learning_rat"', ("unknown parameter 'learning_rat'", "did you mean 'learning_rate'?"),
    ),
    # -- S102 not static --------------------------------------------------------------------------
    Case(
        "call-argument",
        flow("""
            @step(outputs=list("ab"))
            def a():
                return 1
        """),
        "S102", 'list("ab")', ("a call cannot be read statically",),
    ),
    Case(
        "f-string-argument",
        flow("""
            TAG = "x"

            @step(image=f"python:{TAG}")
            def a():
                return 1
        """),
        "S102", 'f"python:{TAG}"', ("f-strings",),
    ),
    Case(
        "name-from-another-module",
        flow("""
            import config

            @step(timeout=config.TIMEOUT)
            def a():
                return 1
        """),
        "S102", "config.TIMEOUT", ("another module",),
    ),
    Case(
        "imported-name",
        flow("""
            from config import TIMEOUT

            @step(timeout=TIMEOUT)
            def a():
                return 1
        """),
        "S102", "TIMEOUT)", ("'TIMEOUT' is imported from another module",),
    ),
    Case(
        "double-star-kwargs-in-decorator",
        flow("""
            OPTIONS = {"retry": 2}

            @step(**OPTIONS)
            def a():
                return 1
        """),
        "S102", "**OPTIONS", ("'**' arguments of @step cannot be read statically",),
    ),
    Case(
        "constant-assigned-twice",
        flow("""
            RETRIES = 2
            RETRIES = 3

            @step(retry=RETRIES)
            def a():
                return 1
        """),
        "S102", "RETRIES)", ("'RETRIES' is assigned more than once",),
    ),
    Case(
        "constant-augmented",
        flow("""
            RETRIES = 2
            RETRIES += 1

            @step(retry=RETRIES)
            def a():
                return 1
        """),
        "S102", "RETRIES)", ("'RETRIES' is assigned more than once",),
    ),
    Case(
        "constant-bound-in-a-block",
        flow("""
            import os

            if os.environ.get("BIG"):
                MEMORY = "8Gi"
            else:
                MEMORY = "1Gi"

            @step(resources={"memory": MEMORY})
            def a():
                return 1
        """),
        "S102", "MEMORY})", ("'MEMORY' is bound by an unpacking, a loop or a block",),
    ),
    Case(
        "constant-bound-to-a-call-points-at-the-use",
        flow("""
            import os

            CPU = os.cpu_count()

            @step(resources={"cpu": CPU})
            def a():
                return 1
        """),
        "S102", "CPU})", ("a call cannot be read statically",),
    ),
    Case(
        "non-literal-default",
        flow("""
            import math

            @step
            def a(x: float = math.pi):
                return x
        """),
        "S102", "math.pi", ("default of 'x'",),
    ),
    Case(
        "non-literal-pipeline-argument",
        flow("""
            import os

            @step
            def a():
                return 1

            pipeline("p", steps=[a], image=os.environ["IMAGE"])
        """),
        "S102", 'os.environ["IMAGE"]', ("image:",),
    ),
    # -- S103 wrong form --------------------------------------------------------------------------
    Case(
        "inputs-as-a-string",
        flow("""
            @step(inputs="raw")
            def a(raw):
                return 1
        """),
        "S103", '"raw"', ("inputs must be a list of strings", "['raw']"),
    ),
    Case(
        "outputs-item-not-a-string",
        flow("""
            @step(outputs=["a", 2])
            def a():
                return 1
        """),
        "S103", "2]", ("outputs must be a list of strings",),
    ),
    Case(
        "output-not-an-identifier",
        flow("""
            @step(outputs=["my model"])
            def a():
                return 1
        """),
        "S103", '"my model"', ("must be a Python identifier",),
    ),
    Case(
        "bad-step-name",
        flow("""
            @step(name="train step")
            def a():
                return 1
        """),
        "S103", '"train step"', ("step name",),
    ),
    Case(
        "bad-duration",
        flow("""
            @step(timeout="10 minutes")
            def a():
                return 1
        """),
        "S103", '"10 minutes"', ("bad duration", "'15m'"),
    ),
    Case(
        "bad-env-name",
        flow("""
            @step(env={"MODE": "fast", "MY VAR": "x"})
            def a():
                return 1
        """),
        "S103", '"MY VAR"', ("env name 'MY VAR' is not an environment variable name",),
    ),
    Case(
        "empty-pipeline-name",
        flow("""
            @step
            def a():
                return 1

            pipeline("", steps=[a])
        """),
        "S103", '""', ("non-empty single line",),
    ),
    Case(
        "pipeline-without-a-name",
        flow("""
            @step
            def a():
                return 1

            pipeline(steps=[a])
        """),
        "S103", "pipeline(steps", ("needs a name",),
    ),
    # -- S104 .. S109 wiring ----------------------------------------------------------------------
    Case(
        "missing-producer",
        flow("""
            @step(outputs=["train_set"])
            def load():
                return 1

            @step(inputs=["trian_set"], outputs=["model"])
            def train(trian_set):
                return 1
        """),
        "S104", '"trian_set"', ("input 'trian_set' of step 'train' has no producer", "did you mean 'train_set'?"),
    ),
    Case(
        "producer-in-another-pipeline",
        flow("""
            @step(outputs=["raw"])
            def load():
                return 1

            @step(inputs=["raw"])
            def train(raw):
                return 1

            pipeline("one", steps=[load])
            pipeline("two", steps=[train])
        """),
        "S104", 'inputs=["raw"]', ("step 'load' produces it but is not in pipeline 'two'",), shift=8,
    ),
    Case(
        "duplicate-step-name",
        flow("""
            @step
            def train():
                return 1

            @step(name="train")
            def train_again():
                return 1
        """),
        "S105", '"train"', ("a step named 'train' is declared twice",),
    ),
    Case(
        "duplicate-artifact",
        flow("""
            @step(outputs=["model"])
            def a():
                return 1

            @step(outputs=["model"])
            def b():
                return 1
        """),
        "S106", '"model"])\ndef b', ("artifact 'model' is already produced by step 'a'",),
    ),
    Case(
        "output-listed-twice",
        flow("""
            @step(outputs=["x", "y", "x"])
            def a():
                return 1, 2, 3
        """),
        "S106", '"x"]', ("lists 'x' twice",),
    ),
    Case(
        "cycle",
        flow("""
            @step(inputs=["c"], outputs=["a"])
            def first(c):
                return 1

            @step(inputs=["a"], outputs=["b"])
            def second(a):
                return 1

            @step(inputs=["b"], outputs=["c"])
            def third(b):
                return 1
        """),
        "S107", "first", ("cycle between steps: first -> second -> third -> first",),
    ),
    Case(
        "cycle-through-after",
        flow("""
            @step(after=["b"])
            def a():
                return 1

            @step(after=["a"])
            def b():
                return 1
        """),
        "S107", "a():", ("a -> b -> a",),
    ),
    Case(
        "foreach-over-a-non-input",
        flow("""
            @step(outputs=["grid"])
            def make():
                return [1, 2]

            @step(inputs=["grid"], foreach="gird")
            def train(grid):
                return 1
        """),
        "S108", '"gird"', ("neither one of its inputs nor a list parameter", "did you mean 'grid'?"),
    ),
    Case(
        "nested-foreach-without-an-outer-one",
        flow("""
            @step(outputs=["grid"])
            def make():
                return [1, 2]

            @step(inputs=["grid"], foreach="grid", nested=True)
            def train(grid):
                return 1
        """),
        "S126", "True", ("nested=True fans out inside a foreach", "not made in one"),
    ),
    Case(
        "nested-results-read-outside-their-foreach",
        flow("""
            @step(outputs=["groups"])
            def make():
                return [[1], [2, 3]]

            @step(inputs=["groups"], outputs=["members"], foreach="groups")
            def outer(groups):
                return groups

            @step(inputs=["members"], outputs=["value"], foreach="members", nested=True)
            def inner(members):
                return members

            @step(inputs=["value"])
            def total(value):
                return 1
        """),
        "S126", '"value"])\n', ("a foreach nested in the foreach of 'outer'", "chained map of 'outer'"),
    ),
    Case(
        "foreach-over-a-non-list-parameter",
        flow("""
            @step(foreach="epochs")
            def train(epochs: int = 3):
                return 1
        """),
        "S108", '"epochs"', ("an int parameter; foreach needs a list",),
    ),
    Case(
        "parameter-type-conflict",
        flow("""
            @step(outputs=["a"])
            def first(seed: int = 1):
                return 1

            @step(inputs=["a"])
            def second(a, seed: str = "1"):
                return 1
        """),
        "S109", 'seed: str', ("'seed' is a str here but an int in step 'first'",),
    ),
    Case(
        "parameter-default-conflict",
        flow("""
            @step(outputs=["a"])
            def first(seed: int = 1):
                return 1

            @step(inputs=["a"])
            def second(a, seed: int = 2):
                return 1
        """),
        "S109", "seed: int = 2", ("default 2 here but default 1 in step 'first'", "pipeline(params=...)"),
    ),
    # -- S110 / S111 conditions -------------------------------------------------------------------
    Case(
        "when-syntax-error",
        flow("""
            @step(when="mode == 'train' and")
            def a(mode: str = "train"):
                return 1
        """),
        "S110", 'and")', ("invalid condition: it ends too early",), shift=3,
    ),
    Case(
        "when-single-equals",
        flow("""
            @step(when="mode = 'train'")
            def a(mode: str = "train"):
                return 1
        """),
        "S110", "= 'train'\")", ("use '==' to compare",),
    ),
    Case(
        "when-disallowed-call",
        flow("""
            @step(when="len(mode) > 2")
            def a(mode: str = "train"):
                return 1
        """),
        "S110", "len(mode)", ("'len(mode)' is a call", "comparisons of parameters and literals"),
    ),
    Case(
        "when-disallowed-arithmetic",
        flow("""
            @step(when="epochs * 2 > 10")
            def a(epochs: int = 3):
                return 1
        """),
        "S110", "epochs * 2", ("is arithmetic",),
    ),
    Case(
        "when-not-a-string",
        flow("""
            @step(when=True)
            def a():
                return 1
        """),
        "S103", "True", ("when must be a string",),
    ),
    Case(
        "when-unknown-name",
        flow("""
            @step(when="mode == 'train' and epocs > 1")
            def a(mode: str = "train", epochs: int = 3):
                return 1
        """),
        "S111", "epocs", ("'epocs' in the condition of step 'a' is not a pipeline parameter", "did you mean 'epochs'?"),
    ),
    Case(
        "when-unknown-name-after-an-escape",
        flow("""
            @step(when="mode != '\\t' and modes")
            def a(mode: str = "train"):
                return 1
        """),
        "S111", "modes", ("did you mean 'mode'?",),
    ),
    Case(
        "when-unknown-name-after-non-ascii",
        flow("""
            @step(when="mode == 'é' or mood")
            def a(mode: str = "train"):
                return 1
        """),
        "S111", "mood", ("did you mean 'mode'?",),
    ),
    # -- S112 .. S114 values ----------------------------------------------------------------------
    Case(
        "bad-memory-unit",
        flow("""
            @step(resources={"memory": "4GB"})
            def a():
                return 1
        """),
        "S112", '"4GB"', ("unknown memory unit 'GB'", "did you mean '4Gi'?"),
    ),
    Case(
        "memory-as-a-plain-number",
        flow("""
            @step(resources={"cpu": 1, "memory": 4096})
            def a():
                return 1
        """),
        "S112", "4096", ("would be 4096 bytes: write '4096Mi'",),
    ),
    Case(
        "number-too-large",
        flow("""
            @step(timeout=1e999)
            def a():
                return 1
        """),
        "S102", "1e999", ("too large to be a finite number",),
    ),
    Case(
        "bad-cpu",
        flow("""
            @step(resources={"cpu": "two"})
            def a():
                return 1
        """),
        "S112", '"two"', ("bad cpu quantity",),
    ),
    Case(
        "unknown-resource-key",
        flow("""
            @step(resources={"memroy": "1Gi"})
            def a():
                return 1
        """),
        "S112", '"memroy"', ("unknown resource 'memroy'", "did you mean 'memory'?"),
    ),
    Case(
        "negative-gpu",
        flow("""
            @step(resources={"gpu": -1})
            def a():
                return 1
        """),
        "S112", "-1", ("whole number of GPUs",),
    ),
    Case(
        "bad-cron-field",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a], schedule="0 25 * * *")
        """),
        "S113", '"0 25 * * *"', ("bad hour field '25'",),
    ),
    Case(
        "bad-cron-field-count",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a], schedule="daily")
        """),
        "S113", '"daily"', ("5 fields", "1 given"),
    ),
    Case(
        "negative-retry",
        flow("""
            @step(retry=-1)
            def a():
                return 1
        """),
        "S114", "-1", ("retry must not be negative",),
    ),
    Case(
        "negative-retry-delay",
        flow("""
            @step(retry={"times": 1, "delay": -5})
            def a():
                return 1
        """),
        "S114", "-5", ("retry delay must not be negative",),
    ),
    Case(
        "negative-timeout",
        flow("""
            @step(timeout=-30)
            def a():
                return 1
        """),
        "S114", "-30", ("timeout must be more than 0 seconds",),
    ),
    Case(
        "zero-timeout-on-the-pipeline",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a], timeout=0)
        """),
        "S114", "0)", ("timeout must be more than 0 seconds",),
    ),
    Case(
        "zero-weight",
        flow("""
            @step(weight=0)
            def a():
                return 1
        """),
        "S114", "0)", ("weight must be more than 0",),
    ),
    # -- S115 .. S125 -----------------------------------------------------------------------------
    Case(
        "input-not-a-parameter",
        flow("""
            @step(outputs=["rows"])
            def load():
                return 1

            @step(inputs=["rows"])
            def train(row):
                return 1
        """),
        "S115", '"rows"])\ndef train', ("input 'rows' is not a parameter of train()", "did you mean 'row'?"),
    ),
    Case(
        "after-unknown-step",
        flow("""
            @step
            def prepare():
                return 1

            @step(after=["prepar"])
            def train():
                return 1
        """),
        "S116", '"prepar"', ("after names unknown step 'prepar'", "did you mean 'prepare'?"),
    ),
    Case(
        "after-names-the-function-of-a-renamed-step",
        flow("""
            @step(name="prepare-data")
            def prepare():
                return 1

            @step(after=["prepare"])
            def train():
                return 1
        """),
        "S116", '"prepare"]', ("function prepare() is the step named 'prepare-data'",),
    ),
    Case(
        "empty-image",
        flow("""
            @step(image="")
            def a():
                return 1
        """),
        "S103", '""', ("not a container image reference",),
    ),
    Case(
        "steps-lists-a-plain-function",
        flow("""
            @step
            def a():
                return 1

            def helper():
                return 2

            pipeline("p", steps=[a, helper])
        """),
        "S117", "helper])", ("'helper' is not decorated with @step",),
    ),
    Case(
        "steps-names-nothing",
        flow("""
            @step
            def train():
                return 1

            pipeline("p", steps=[trian])
        """),
        "S117", "trian]", ("not a function defined in this module", "did you mean 'train'?"),
    ),
    Case(
        "steps-lists-a-step-twice",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a, a])
        """),
        "S117", "a])", ("step 'a' is listed twice",),
    ),
    Case(
        "steps-not-a-list",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=a)
        """),
        "S117", "a)", ("steps= must be a list",),
    ),
    Case(
        "rollback-not-a-function",
        flow("""
            @step(rollback=undo_it)
            def a():
                return 1

            def undo():
                pass
        """),
        "S118", "undo_it", ("rollback 'undo_it' is not a function defined in this module", "did you mean 'undo'?"),
    ),
    Case(
        "bad-cache-policy",
        flow("""
            @step(cache="code-hash")
            def a():
                return 1
        """),
        "S120", '"code-hash"', ("cache must be", "did you mean 'code_hash'?"),
    ),
    Case(
        "bad-annotation",
        flow("""
            import numpy as np

            @step
            def a(x: np.ndarray = None):
                return 1
        """),
        "S121", "np.ndarray", ("annotation must be one of int, float, str, bool, list, dict",),
    ),
    Case(
        "default-does-not-match-annotation",
        flow("""
            @step
            def a(epochs: int = "ten"):
                return 1
        """),
        "S122", '"ten"', ("default 'ten' of parameter 'epochs' is not an int",),
    ),
    Case(
        "default-does-not-match-item-type",
        flow("""
            @step
            def a(rates: list[float] = [0.1, "fast"]):
                return 1
        """),
        "S122", '[0.1, "fast"]', ("is not a list[float]",),
    ),
    Case(
        "params-value-of-the-wrong-type",
        flow("""
            @step
            def a(epochs: int = 3):
                return 1

            pipeline("p", steps=[a], params={"epochs": "many"})
        """),
        "S122", '"epochs"', ("params value 'many' for 'epochs' is not an int",),
    ),
    Case(
        "star-args",
        flow("""
            @step
            def a(x, *rest):
                return 1
        """),
        "S123", "*rest", ("cannot take *args",),
    ),
    Case(
        "double-star-kwargs-in-signature",
        flow("""
            @step
            def a(x: int = 1, **options):
                return 1
        """),
        "S123", "**options", ("cannot take **kwargs",),
    ),
    Case(
        "async-step",
        flow("""
            @step
            async def a():
                return 1
        """),
        "S123", "async", ("cannot be async",),
    ),
    Case(
        "positional-only-parameter",
        flow("""
            @step
            def a(x: int = 1, /, y: int = 2):
                return 1
        """),
        "S123", "x: int = 1, /", ("positional-only",),
    ),
    Case(
        "group-not-consecutive",
        flow("""
            @step(outputs=["a"], group="io")
            def first():
                return 1

            @step(inputs=["a"], outputs=["b"])
            def middle(a):
                return 1

            @step(inputs=["b"], group="io")
            def last(b):
                return 1
        """),
        "S124", '"io")\ndef last', ("group 'io' is not consecutive: step 'middle' runs between its steps",),
    ),
    Case(
        "group-mixes-foreach",
        flow("""
            @step(outputs=["xs"], group="g")
            def make():
                return [1]

            @step(inputs=["xs"], foreach="xs", group="g")
            def each(xs):
                return 1
        """),
        "S124", '"g")\ndef each', ("runs per item",),
    ),
    Case(
        "duplicate-pipeline",
        flow("""
            @step
            def a():
                return 1

            pipeline("p", steps=[a])
            pipeline("p", steps=[a])
        """),
        "S125", 'steps=[a])\npipeline("p"', ("a pipeline named 'p' is declared twice",), shift=20,
    ),
    Case(
        "pipeline-without-steps",
        flow("""
            @step
            def a():
                return 1

            pipeline("empty", steps=[])
            pipeline("full", steps=[a])
        """),
        "S003", '"empty"', ("pipeline 'empty' has no steps",),
    ),
    Case(
        "step-in-no-pipeline",
        flow("""
            @step
            def a():
                return 1

            @step
            def forgotten():
                return 1

            pipeline("p", steps=[a])
        """),
        "W201", "forgotten", ("not in the steps of any pipeline()",), severity="warning",
    ),
    # -- S002 syntax ------------------------------------------------------------------------------
    Case(
        "a-second-step-function-of-one-name",
        flow("""
            @step(outputs=["a"])
            def train():
                return 1


            @step(outputs=["b"])
            def train():  # the second
                return 2
        """),
        "S138", "train():  # the second", ("a second step function 'train'", "first (line 4)", "rename one"),
    ),
    Case(
        "step-on-a-plain-class-method",
        flow("""
            class Helpers:
                @step(outputs=["c"])
                def method(self):
                    return 3
        """),
        "S138", "method(self)", ("method 'method' of class 'Helpers', which is not a FlowSpec",),
    ),
    Case(
        "step-applied-to-a-lambda",
        flow("""
            made = step(outputs=["d"])(lambda: 4)
        """),
        "S138", "lambda: 4", ("step(...) applied to an expression",),
    ),
    Case(
        "syntax-error",
        flow("""
            @step(outputs=["a"]
            def a():
                return 1
        """),
        "S002", '(outputs=["a"]\n', ("syntax error: '(' was never closed",),
    ),
    Case(
        "error-only-python-itself-finds",
        flow("""
            @step
            def a():
                1 = x
        """),
        "S002", "1 = x", ("syntax error: cannot assign to literal",),
    ),
]  # fmt: skip


PRELUDE = "NAMES = ['x']\nBASE = {'cpu': 1}\nLOOP = LOOP\n\ndef helper():\n    pass\n\n"


def form(id: str, arguments: str, code: str, at: str, says: str, shift: int = 0) -> Case:
    """A case of one argument form, on a one-step flow with a few constants to refer to."""
    source = HEAD + PRELUDE + f"@step({arguments})\ndef a(a: int = 1):\n    return 1\n"
    return Case(id, source, code, at, (says,), shift)


CASES += [
    form("retry-times-not-an-int", 'retry={"times": 1.5}', "S103", "1.5", "retry times must be an int"),
    form("retry-backoff-below-one", 'retry={"times": 1, "backoff": 0.5}', "S114", "0.5", "backoff must be at least 1"),
    form("retry-wrong-type", 'retry="twice"', "S103", '"twice"', "retry must be an int or a dict"),
    form("resources-not-a-dict", 'resources=["cpu"]', "S103", '["cpu"]', "resources must be a dict"),
    form("gpu-type-not-a-string", 'resources={"gpu": 1, "gpu_type": 100}', "S112", "100", "gpu_type must be a string"),
    form("env-not-a-dict", 'env=["A=1"]', "S103", '["A=1"]', "env must be a dict of strings"),
    form("env-value-not-a-string", 'env={"N": 1}', "S103", '"N": 1', "env must map strings to strings", 5),
    form("weight-not-a-number", 'weight="heavy"', "S103", '"heavy"', "weight must be a number"),
    form("on-failure-unknown", 'on_failure="contineu"', "S103", '"contineu"', "did you mean 'continue'"),
    form("tags-not-strings", "tags=[1]", "S103", "1]", "tags must be a list of strings"),
    form("inputs-not-a-list", "inputs=3", "S103", "3", "inputs must be a list of strings"),
    form("starred-list-element", "outputs=[*NAMES]", "S102", "*NAMES", "starred elements"),
    form("double-star-in-a-dict", "resources={**BASE}", "S102", "**BASE", "'**' in a dict"),
    form("bytes-literal", 'image=b"python"', "S102", 'b"python"', "bytes literals are not supported"),
    form("minus-on-a-string", 'image=-"python"', "S102", '-"python"', "unary minus applies to numbers only"),
    form("constant-refers-to-itself", "timeout=LOOP", "S102", "=LOOP)", "constant 'LOOP' refers to itself", 1),
    form("a-function-is-not-a-constant", "timeout=helper", "S102", "=helper", "'helper' is not a constant", 1),
    form("unknown-name", "timeout=UNDEFINED", "S102", "UNDEFINED", "'UNDEFINED' is not a module-level constant"),
    form("lambda", "timeout=lambda: 3", "S102", "lambda: 3", "only literals and module-level constants"),
    form("dict-key-a-number", "env={1: 'x'}", "S102", "1:", "dict keys must be strings: write '1'"),
    form("dict-key-a-list", "env={[1]: 'x'}", "S102", "[1]", "dict keys must be strings"),
    form("when-multi-line", 'when="a == 1\\nor a == 2"', "S110", '"a == 1', "on one line", 1),
    form("when-is-none", 'when="a is None"', "S110", "is None", "'is' compares identity: use '==' or '!='"),
    form("when-number-out-of-range", 'when="a < 1e999"', "S110", "1e999", "1e999 is out of range for a condition"),
    form("when-a-bare-literal", 'when="1"', "S110", '"1"', "is this literal", 1),
    form("when-bytes", "when=\"a == b'x'\"", "S110", "b'x'", "a bytes literal"),
    form("cache-not-a-policy", "cache=1", "S120", "cache=1", "cache must be", 6),
    form("foreach-not-a-string", "foreach=1", "S103", "foreach=1", "foreach must be a string", 8),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_diagnostic_code_place_and_message(case: Case, tmp_path: Path) -> None:
    diagnostics = diagnose(tmp_path, case.source)
    line, col = expected_place(case.source, case.at, case.shift)
    found = [d for d in diagnostics if d.code == case.code]
    assert found, f"no {case.code} in {[d.render_text() for d in diagnostics]}"
    hit = found[0]
    assert (hit.line, hit.col) == (line, col), hit.render_text()
    for fragment in case.says:
        assert fragment in hit.message, hit.message
    assert hit.severity == case.severity
    assert hit.source_line == case.source.splitlines()[line - 1]
    if case.severity == "error":
        assert not read_file(write(tmp_path, case.source)).pipelines  # no IR from a module with an error


def test_every_code_of_the_table_has_a_case() -> None:
    # S001, S003 and S119 have tests below, the class dialect's codes in test_class_dialect; S004
    # (an internal error) must never be seen, which test_properties_fuzz checks on thousands of inputs.
    covered = {c.code for c in CASES + CLASS_CASES} | {"S001", "S003", "S004", "S119"}
    front_end = {code for code in CODES if code[0] in "SW"}  # T: the backends' codes
    assert front_end <= covered, sorted(front_end - covered)


def test_the_rendered_diagnostic_has_the_source_line_and_a_caret(tmp_path: Path) -> None:
    source = flow("""
        @step(outputs=["train_set"])
        def load():
            return 1

        @step(inputs=["trian_set"])
        def train(trian_set):
            return 1
    """)
    (diagnostic,) = diagnose(tmp_path, source)
    text = diagnostic.render_text()
    assert text.splitlines() == [
        f"{tmp_path / 'flow.py'}:7:15: error[S104]: input 'trian_set' of step 'train' has no producer "
        "(did you mean 'train_set'?)",
        '   7 | @step(inputs=["trian_set"])',
        "     |               ^~~~~~~~~~~",
    ]


def test_the_caret_of_an_unknown_when_name_underlines_the_name(tmp_path: Path) -> None:
    source = flow("""
        @step(when="mode == 'train' and epocs > 1")
        def a(mode: str = "train", epochs: int = 3):
            return 1
    """)
    (diagnostic,) = diagnose(tmp_path, source)
    underlined = diagnostic.source_line[diagnostic.col - 1 : (diagnostic.end_col or 0) - 1]
    assert underlined == "epocs"


def test_a_when_held_by_a_constant_points_at_the_use(tmp_path: Path) -> None:
    source = flow("""
        ONLY_TRAINING = "mode == 'train' and epocs > 1"

        @step(when=ONLY_TRAINING)
        def a(mode: str = "train"):
            return 1
    """)
    (diagnostic,) = diagnose(tmp_path, source)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S111", 5, 12)


def test_several_errors_of_one_step_are_all_reported(tmp_path: Path) -> None:
    source = flow("""
        @step(retry=-1, timeout="soon", cache="always")
        def a(x=f"{1}", *rest):
            return 1
    """)
    codes = sorted(d.code for d in diagnose(tmp_path, source))
    assert codes == ["S102", "S103", "S114", "S120", "S123"]


def test_a_step_in_two_pipelines_is_reported_once(tmp_path: Path) -> None:
    source = flow("""
        @step(inputs=["missing"])
        def a(missing):
            return 1

        pipeline("one", steps=[a])
        pipeline("two", steps=[a])
    """)
    assert [d.code for d in diagnose(tmp_path, source)] == ["S104"]


def test_a_broken_step_listed_in_a_pipeline_is_reported_once(tmp_path: Path) -> None:
    source = flow("""
        @step
        def a(*args):
            return 1

        pipeline("p", steps=[a])
    """)
    assert [d.code for d in diagnose(tmp_path, source)] == ["S123"]


# -- reading the file -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    (diagnostic,) = read_file(str(tmp_path / "nope.py")).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S001", 1, 1)
    assert "no such file" in diagnostic.message


def test_directory(tmp_path: Path) -> None:
    (diagnostic,) = read_file(str(tmp_path)).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S001", 1, 1)
    assert "is a directory" in diagnostic.message


def test_non_utf8_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.py"
    path.write_bytes(b"from stepc import step\n\nNAME = 'caf\xe9'\n")
    (diagnostic,) = read_file(str(path)).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S001", 3, 12)
    assert "not UTF-8" in diagnostic.message and "0xe9" in diagnostic.message


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.py"
    path.write_bytes(b"from stepc import step\n\x00\x01\x02\xff\xfe")
    diagnostics = read_file(str(path)).diagnostics
    assert [d.code for d in diagnostics] in (["S001"], ["S002"])
    assert diagnostics[0].line == 2


def test_null_byte_in_utf8_text(tmp_path: Path) -> None:
    path = tmp_path / "nul.py"
    path.write_bytes(b"from stepc import step\n\nX = 1\x00\n")
    (diagnostic,) = read_file(str(path)).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S002", 3, 1)


def test_empty_file_has_no_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert read_file(path).diagnostics == ()
    pipeline, diagnostics = load(path)
    assert pipeline is None
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("S003", 1, 1)]
    assert "no @step functions" in diagnostics[0].message


def test_only_a_foreign_step_is_no_step(tmp_path: Path) -> None:
    path = write(tmp_path, "from prefect import step\n\n@step\ndef a():\n    return 1\n")
    assert read_file(path).pipelines == ()
    assert [d.code for d in load(path)[1]] == ["S003"]


def test_files_without_a_flow_import_are_passed_over_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, "this is not python(\n")
    assert read_file(path, only_flows=True).passed_over
    assert [d.code for d in read_file(path).diagnostics] == ["S002"]


# -- choosing a pipeline (S119) -------------------------------------------------------------------

TWO_PIPELINES = flow("""
    @step
    def a():
        return 1

    @step
    def b():
        return 1

    pipeline("training", steps=[a])
    pipeline("serving", steps=[b])
""")


def test_several_pipelines_and_none_chosen(tmp_path: Path) -> None:
    pipeline, diagnostics = load(write(tmp_path, TWO_PIPELINES))
    assert pipeline is None
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("S119", 1, 1)
    assert "several pipelines (training, serving)" in diagnostic.message and "--pipeline" in diagnostic.message


def test_unknown_pipeline_name(tmp_path: Path) -> None:
    pipeline, diagnostics = load(write(tmp_path, TWO_PIPELINES), "trainig")
    assert pipeline is None
    (diagnostic,) = diagnostics
    assert diagnostic.code == "S119"
    assert "did you mean 'training'?" in diagnostic.message and "training, serving" in diagnostic.message


def test_choosing_a_pipeline(tmp_path: Path) -> None:
    pipeline, diagnostics = load(write(tmp_path, TWO_PIPELINES), "serving")
    assert pipeline is not None and diagnostics == []
    assert [s.name for s in pipeline.steps] == ["b"]


def test_step_and_output_names_have_no_length_limit(tmp_path: Path) -> None:
    # Any name Python accepts: the store and every target shorten names where they must.
    long_name = "s" * 300
    flow = tmp_path / "flow.py"
    flow.write_text(
        f"from stepc import step\n\n@step(name={long_name!r}, outputs=[{('o' * 300)!r}])\ndef a():\n    return 1\n",
        encoding="utf-8",
    )
    result = read_file(str(flow))
    assert result.diagnostics == ()
    assert [s.name for s in result.pipelines[0].steps] == [long_name]
