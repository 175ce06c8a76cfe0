"""What one real ``stepc check`` run reports: names suggested by meaning as well as spelling,
every problem of an argument at once (each at its own place), the mistakes that would otherwise
show only at run time, definitions stepc would drop, and empty files as ``stepc run`` sees them.

Each flow is written to a temporary folder and checked by the real CLI; the expected places are
found from unique snippets of the source, so a case states its text once.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.helpers import stepc

HEAD = "from stepc import pipeline, step\n\n"


def place(source: str, snippet: str, shift: int = 0) -> tuple[int, int]:
    """Line and column (1-based) of ``snippet``, which occurs once in ``source``."""
    assert source.count(snippet) == 1, f"{snippet!r} must occur once"
    index = source.index(snippet) + shift
    return source.count("\n", 0, index) + 1, index - (source.rfind("\n", 0, index) + 1) + 1


def check(tmp_path: Path, source: str, name: str = "flow.py") -> tuple[int, list[tuple[str, int, int, str]], str]:
    """Exit code, (code, line, col, message) of each diagnostic in order, and the text output."""
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    result = stepc("check", "--format", "json", str(path))
    assert "Traceback" not in result.stdout + result.stderr
    found = [(d["code"], d["line"], d["col"], d["message"]) for d in json.loads(result.stdout)]
    text = stepc("check", str(path))
    assert text.returncode == result.returncode
    return result.returncode, found, text.stderr


def flow(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


# -- did-you-mean by meaning --------------------------------------------------------------------

# (the argument as another system spells it, what stepc calls it)
STEP_SYNONYMS = [
    ("execution_group", "group"),  # flowyml
    ("retries", "retry"),  # Airflow, Prefect
    ("max_retries", "retry"),  # ZenML, Kubeflow
    ("depends_on", "after"),  # flowyml
    ("upstream", "after"),
    ("needs", "after"),  # GitHub Actions
    ("dependsOn", "after"),  # camelCase is the same name
    ("condition", "when"),  # flowyml
    ("timeout_seconds", "timeout"),  # Prefect
    ("execution_timeout", "timeout"),  # Airflow
    ("docker_image", "image"),
    ("enable_cache", "cache"),  # ZenML
    ("env_vars", "env"),
    ("task_id", "name"),  # Airflow
    ("labels", "tags"),
    ("continue_on_failure", "on_failure"),
    ("memory", "resources"),  # a resource written as an argument
]


def test_step_arguments_of_other_systems_point_to_stepc_names_all_in_one_run(tmp_path: Path) -> None:
    steps = "".join(
        f"@step({written}=1)\ndef s{i}():\n    return 1\n\n\n" for i, (written, _) in enumerate(STEP_SYNONYMS)
    )
    source = HEAD + steps
    code, found, text = check(tmp_path, source)
    assert code == 1
    expected = [
        ("S101", *place(source, f"({written}=1", 1), f"unknown argument '{written}' of @step (did you mean '{meant}'?)")
        for written, meant in STEP_SYNONYMS
    ]
    assert found == expected
    first = (
        f"{tmp_path / 'flow.py'}:3:7: error[S101]: unknown argument 'execution_group' of @step (did you mean 'group'?)"
    )
    assert text.splitlines()[0] == first
    assert text.splitlines()[-1] == f"{len(STEP_SYNONYMS)} error(s), 0 warning(s) in 1 file(s)"


def test_pipeline_arguments_of_other_systems(tmp_path: Path) -> None:
    source = flow("""
        @step
        def a():
            return 1

        pipeline("p", tasks=[a], schedule_interval="@daily", parameters={}, max_retries=1)
    """)
    code, found, _ = check(tmp_path, source)
    assert code == 1
    assert found == [
        ("S101", *place(source, "tasks="), "unknown argument 'tasks' of pipeline() (did you mean 'steps'?)"),
        (
            "S101",
            *place(source, "schedule_interval="),
            "unknown argument 'schedule_interval' of pipeline() (did you mean 'schedule'?)",
        ),
        ("S101", *place(source, "parameters="), "unknown argument 'parameters' of pipeline() (did you mean 'params'?)"),
        (
            "S101",
            *place(source, "max_retries="),
            "unknown argument 'max_retries' of pipeline() (did you mean 'retry'?)",
        ),
    ]


def test_dict_keys_of_other_systems(tmp_path: Path) -> None:
    source = flow("""
        @step(resources={"cpus": 2, "mem": "1Gi", "num_gpus": 1, "accelerator": "a100", "ephemeral_storage": "1Gi"},
              retry={"max_retries": 2, "retry_delay": 5, "backoff_factor": 2})
        def a():
            return 1
    """)
    code, found, _ = check(tmp_path, source)
    assert code == 1
    expected = [
        ("S112", "cpus", "cpu"),
        ("S112", "mem", "memory"),
        ("S112", "num_gpus", "gpu"),
        ("S112", "accelerator", "gpu_type"),
        ("S112", "ephemeral_storage", "disk"),
        ("S101", "max_retries", "times"),
        ("S101", "retry_delay", "delay"),
        ("S101", "backoff_factor", "backoff"),
    ]
    what = {"S112": "resource", "S101": "retry setting"}
    assert found == [
        (c, *place(source, f'"{key}"'), f"unknown {what[c]} '{key}' (did you mean '{meant}'?)")
        for c, key, meant in expected
    ]


def test_spelling_still_suggests_and_a_name_of_no_meaning_gets_no_guess(tmp_path: Path) -> None:
    source = flow("""
        @step(retires=1, frobnicate=2)
        def a():
            return 1
    """)
    _, found, _ = check(tmp_path, source)
    assert [m for *_, m in found] == [
        "unknown argument 'retires' of @step (did you mean 'retry'?)",
        "unknown argument 'frobnicate' of @step",
    ]


def test_the_class_dialect_decorators_suggest_by_meaning(tmp_path: Path) -> None:
    source = textwrap.dedent("""\
        from metaflow import FlowSpec, retry, step, timeout


        class F(FlowSpec):
            @retry(max_retries=2)
            @timeout(timeout_seconds=60)
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    code, found, _ = check(tmp_path, source)
    # Metaflow has arguments stepc does not read: warned, not failed; but a @timeout left with
    # no time at all is an error.
    assert code == 1
    ignored = "is not supported by stepc: it is ignored"
    assert found == [
        ("W203", *place(source, "max_retries"), f"argument 'max_retries' of @retry {ignored} (did you mean 'times'?)"),
        ("S114", *place(source, "timeout("), "@timeout must be more than 0 seconds: give seconds=, minutes= or hours="),
        (
            "W203",
            *place(source, "timeout_seconds"),
            f"argument 'timeout_seconds' of @timeout {ignored} (did you mean 'seconds'?)",
        ),
    ]


def test_a_failure_hook_given_to_on_failure_points_to_rollback(tmp_path: Path) -> None:
    source = flow("""
        def notify(**outputs):
            pass

        @step(on_failure=notify)
        def a():
            return 1
    """)
    code, found, _ = check(tmp_path, source)
    assert code == 1
    message = "on_failure is 'fail' or 'continue'; to call notify() when the step fails, write rollback=notify"
    assert found == [("S103", *place(source, "notify)"), message)]


# -- every problem of an argument at once ------------------------------------------------------


def test_every_bad_entry_of_every_dict_and_list_argument_in_one_run(tmp_path: Path) -> None:
    source = flow("""
        @step(outputs=["b"], resources={"cpu": "many", "memory": "4GB", "gpu": -1, "disk": "lots"},
              retry={"times": 1.5, "delay": -1, "backoff": 0.5}, env={"1A": "x", "B": 2, "C-D": "y"},
              tags=["ok", 3, 4], after=["x", "y", "x", "y"])
        def b():
            return 1
    """)
    code, found, text = check(tmp_path, source)
    assert code == 1
    expected = [
        ("S112", '"many"', "bad cpu quantity 'many'"),
        ("S112", '"4GB"', "unknown memory unit 'GB'"),
        ("S112", '"gpu": -1', "gpu must be a whole number of GPUs, not -1"),
        ("S112", '"lots"', "bad disk quantity 'lots'"),
        ("S103", "1.5", "retry times must be an int"),
        ("S114", '"delay": -1', "retry delay must not be negative (got -1)"),
        ("S114", "0.5", "retry backoff must be at least 1 (got 0.5)"),
        ("S103", '"1A"', "env name '1A' is not an environment variable name"),
        ("S103", "2,", "env must map strings to strings ('B')"),
        ("S103", '"C-D"', "env name 'C-D' is not an environment variable name"),
        ("S103", "3,", "tags must be a list of strings"),
        ("S103", "4]", "tags must be a list of strings"),
        ("S106", '"x", "y"]', "after lists 'x' twice"),
        ("S106", '"y"])', "after lists 'y' twice"),
    ]
    # '"key": value' snippets point at the value
    places = [(c, *place(source, at, at.find(": ") + 2 if ": " in at else 0)) for c, at, _ in expected]
    assert [(c, line, col) for c, line, col, _ in found] == places
    for (_, _, _, message), (_, _, says) in zip(found, expected, strict=True):
        assert message.startswith(says), message
    assert text.splitlines()[-1] == f"{len(expected)} error(s), 0 warning(s) in 1 file(s)"


def test_every_value_that_cannot_be_read_statically_in_one_dict(tmp_path: Path) -> None:
    source = flow("""
        @step(resources={"cpu": CPUS, "memory": f"{1}Gi"}, env={"A": "x", **EXTRA})
        def a():
            return 1
    """)
    _, found, _ = check(tmp_path, source)
    assert found == [
        ("S102", *place(source, "CPUS"), "resources: 'CPUS' is not a module-level constant; write the value here"),
        (
            "S102",
            *place(source, 'f"{1}Gi"'),
            "resources: f-strings cannot be read statically; write a plain string",
        ),
        ("S102", *place(source, "**EXTRA"), "env: '**' in a dict cannot be read statically"),
    ]


def test_every_bad_argument_of_a_metaflow_decorator_at_once(tmp_path: Path) -> None:
    source = textwrap.dedent("""\
        from metaflow import FlowSpec, resources, retry, step


        class F(FlowSpec):
            @retry(times="twice", minutes_between_retries=-1)
            @resources(cpu="lots", memory=-5)
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    code, found, _ = check(tmp_path, source)
    assert code == 1
    assert found == [
        ("S103", *place(source, '"twice"'), "@retry times must be a number"),
        ("S114", *place(source, "-1)"), "@retry minutes_between_retries must not be negative (got -1)"),
        ("S112", *place(source, '"lots"'), "cpu must be a non-negative number, not 'lots'"),
        ("S112", *place(source, "-5"), "memory must be a non-negative number, not -5"),
    ]


# -- mistakes that would otherwise show only when the run gets there (issue 14 item 6) ---------

RUN_TIME_MISTAKES = [
    pytest.param(
        """
        @step(outputs=["data"])
        def load():
            return [1]

        @step(outputs=["model"])
        def train(data):
            return len(data)
        """,
        "S140", "data):",
        "parameter 'data' of step 'train' has the name of an output of step 'load', which it does not read: "
        "add inputs=['data'] to read it, or rename the parameter",
        id="parameter-named-like-an-upstream-output",
    ),
    pytest.param(
        """
        @step(outputs=["a", "b"])
        def load():
            return 1, 2, 3
        """,
        "S141", "return 1, 2, 3", "step 'load' returns 3 values here, but declares 2 outputs ['a', 'b']: "
        "return one value per output, in that order",
        id="tuple-of-another-length",
    ),
    pytest.param(
        """
        @step(outputs=["a"])
        def load():
            a = 1
        """,
        "S141", "load():", "step 'load' declares outputs ['a'] but never returns a value: end it with return a",
        id="outputs-and-no-return",
    ),
    pytest.param(
        """
        def undo(model=None):
            pass

        @step(outputs=["a"], rollback=undo)
        def load():
            return 1
        """,
        "S142", "undo)", "rollback undo() of step 'load' is called with the step's outputs as keyword arguments, "
        "and takes no 'a': add it (or **outputs) to its parameters",
        id="rollback-rejects-the-outputs",
    ),
    pytest.param(
        """
        @step(outputs=["a"], when="epochs > '3'")
        def load(epochs: int = 3):
            return 1
        """,
        "S143", "epochs >", "the condition compares 'epochs', an int parameter, with '3' (str): they never compare "
        "as meant; write the value as an int",
        id="int-parameter-against-a-str",
    ),
    pytest.param(
        """
        @step(outputs=["a"], when="flag")
        def load(flag: str = "no"):
            return 1
        """,
        "S143", 'flag"', "'flag' is a str parameter: a bare name in a condition tests a bool, so this never holds; "
        "compare it instead (e.g. flag == 'yes')",
        id="bare-str-parameter",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code", "at", "message"), RUN_TIME_MISTAKES)
def test_check_catches_what_a_run_would_fail_on(tmp_path: Path, body: str, code: str, at: str, message: str) -> None:
    source = flow(body)
    exit_code, found, text = check(tmp_path, source)
    assert exit_code == 1
    line, col = place(source, at)
    assert found == [(code, line, col, message)]
    assert text.splitlines()[0] == f"{tmp_path / 'flow.py'}:{line}:{col}: error[{code}]: {message}"


# -- nothing dropped without a word (issue 14 item 5) ------------------------------------------

DROPS = [
    pytest.param(
        """
        @step(outputs=["a"])
        def train():
            return 1


        @step(outputs=["b"])
        def train():  # the second
            return 2
        """,
        "train():  # the second",
        "a second step function 'train': Python keeps only the last one, so the first (line 4) would be dropped; "
        "rename one",
        id="duplicate-step-function",
    ),
    pytest.param(
        """
        class Helpers:
            @step(outputs=["c"])
            def method(self):
                return 3
        """,
        "method(self)",
        "@step on method 'method' of class 'Helpers', which is not a FlowSpec: a function step is a module-level "
        "def (or derive the class from FlowSpec)",
        id="step-on-a-plain-class-method",
    ),
    pytest.param(
        """
        made = step(outputs=["d"])(lambda: 4)
        """,
        "lambda: 4",
        "step(...) applied to an expression: a step is a def decorated with @step, which stepc reads without "
        "running the module",
        id="step-applied-to-a-lambda",
    ),
    pytest.param(
        """
        import functools

        def scale(x, factor):
            return x * factor

        doubled = step(outputs=["e"])(functools.partial(scale, factor=2))
        """,
        "functools.partial(",
        "step(...) applied to an expression: a step is a def decorated with @step, which stepc reads without "
        "running the module",
        id="step-applied-to-a-partial",
    ),
    pytest.param(
        """
        from functools import partial

        def scale(x, factor):
            return x * factor

        step(partial(scale, factor=2))
        """,
        "partial(scale",
        "step(...) applied to an expression: a step is a def decorated with @step, which stepc reads without "
        "running the module",
        id="bare-step-applied-to-a-partial",
    ),
]


@pytest.mark.parametrize(("body", "at", "message"), DROPS)
def test_a_step_stepc_would_drop_is_a_diagnostic_at_its_place(tmp_path: Path, body: str, at: str, message: str) -> None:
    source = flow(body)
    code, found, _ = check(tmp_path, source)
    assert code == 1
    assert ("S138", *place(source, at), message) in found


# -- empty files: check says what run says -----------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n", "# a flow, one day\n"], ids=["empty", "blank-lines", "comments"])
def test_check_and_run_agree_on_an_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "new_flow.py"
    path.write_text(content, encoding="utf-8")
    said = f"{path}:1:1: error[S003]: no @step functions found in {path}"
    checked = stepc("check", str(path))
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [said, "1 error(s), 0 warning(s) in 1 file(s)"]
    ran = stepc("run", str(path), "--store", str(tmp_path / "store"))
    assert ran.returncode == 1
    assert said in ran.stderr.splitlines()


def test_an_empty_package_init_and_empty_files_found_in_a_directory_pass(tmp_path: Path) -> None:
    package = tmp_path / "flows"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "later.py").write_text("", encoding="utf-8")
    assert stepc("check", str(package / "__init__.py")).returncode == 0
    result = stepc("check", str(package))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# -- the table itself ---------------------------------------------------------------------------


def test_each_meaning_in_the_table_is_a_name_stepc_reads() -> None:
    from stepc.frontend.arguments import RESOURCE_KEYS, RETRY_KEYS
    from stepc.frontend.flowsettings import STEP_DECORATORS
    from stepc.frontend.functions import PIPELINE_ARGUMENTS, STEP_ARGUMENTS
    from stepc.synonyms import SYNONYMS

    names = {*STEP_ARGUMENTS, *PIPELINE_ARGUMENTS, *RESOURCE_KEYS, *RETRY_KEYS}
    names |= {a for arguments in STEP_DECORATORS.values() for a in arguments}
    assert {m for meanings in SYNONYMS.values() for m in meanings} <= names


def test_the_first_meaning_valid_where_the_name_is_written_wins() -> None:
    from stepc.diagnostics import did_you_mean
    from stepc.frontend.arguments import RETRY_KEYS
    from stepc.frontend.functions import STEP_ARGUMENTS
    from stepc.synonyms import meaning

    assert meaning("max_retries", STEP_ARGUMENTS) == "retry"
    assert meaning("max_retries", RETRY_KEYS) == "times"
    assert meaning("Depends-On", STEP_ARGUMENTS) == "after"
    assert meaning("condition", RETRY_KEYS) is None
    # the user's own names (inputs, parameters, steps) are matched by spelling only
    assert did_you_mean("condition", ["when"]) == ""
    assert did_you_mean("condition", ["when"], synonyms=True) == " (did you mean 'when'?)"
