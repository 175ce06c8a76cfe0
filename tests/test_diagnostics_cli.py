"""``stepc check`` as a pre-commit hook and CI step meets it: a real process, its output
formats, and exit codes 0 (clean), 1 (an error), 2 (a usage error), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import GOLDEN, stepc

BROKEN = """\
from stepc import pipeline, step


@step(outputs=["train_set"])
def load():
    return 1


@step(inputs=["trian_set"], outputs=["model"], retry=-1)
def train(trian_set):
    return 1
"""


def no_traceback(result: object) -> bool:
    return "Traceback" not in getattr(result, "stdout", "") + getattr(result, "stderr", "")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_clean_flows_exit_0_silently() -> None:
    result = stepc("check", "golden/iris_training.py", "golden/etl_branches.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_text_format(broken: Path) -> None:
    result = stepc("check", str(broken))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    head = f"{broken}:9:15: error[S104]: input 'trian_set' of step 'train' has no producer (did you mean 'train_set'?)"
    assert head in lines
    at = lines.index(head)
    assert lines[at + 1 : at + 3] == [
        '   9 | @step(inputs=["trian_set"], outputs=["model"], retry=-1)',
        "     |               ^~~~~~~~~~~",
    ]
    assert f"{broken}:9:54: error[S114]: retry must not be negative (got -1)" in lines
    assert lines[-1] == "2 error(s), 0 warning(s) in 1 file(s)"
    assert no_traceback(result)


def test_json_format(broken: Path) -> None:
    result = stepc("check", "--format", "json", str(broken))
    assert result.returncode == 1
    found = [(d["code"], d["line"], d["col"], d["severity"]) for d in json.loads(result.stdout)]
    assert found == [("S104", 9, 15, "error"), ("S114", 9, 54, "error")]


def test_json_format_of_a_clean_file_is_an_empty_list() -> None:
    result = stepc("check", "--format", "json", "golden/iris_training.py")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


def test_github_format(broken: Path) -> None:
    result = stepc("check", "--format", "github", str(broken))
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("::error file=")
    assert ",line=9,col=15,title=stepc S104::[S104] input 'trian_set'" in first


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(
        "from stepc import pipeline, step\n\n@step\ndef a():\n    return 1\n\n@step\ndef b():\n    return 1\n\n"
        'pipeline("p", steps=[a])\n',
        encoding="utf-8",
    )
    result = stepc("check", str(path))
    assert result.returncode == 0
    assert "warning[W201]" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("syntax.py", b"from stepc import step\n\n@step(\ndef a(:\n", "S002"),
        ("latin1.py", b"from stepc import step\nX = 'caf\xe9'\n", "S001"),
        ("garbage.py", b"import stepc\n\x00\xff\xfe\x00\x80garbage", None),
        ("nul.py", b"import stepc\nX = 1\x00\n", "S002"),
        ("deep.py", b"import stepc\nX = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n", "S002"),
        (
            "deep_when.py",
            b"from stepc import step\n@step(when='" + b"not " * 990 + b"x')\ndef a(x=True):\n    pass\n",
            "S110",
        ),
        (
            "deep_constant.py",
            b"from stepc import step\nX = " + b"-" * 990 + b"1\n@step(retry=X)\ndef a():\n    pass\n",
            None,
        ),
        (
            "long_chain.py",
            b"from stepc import step\nC0 = 1\n"
            + b"".join(b"C%d = C%d\n" % (i, i - 1) for i in range(1, 3000))
            + b"@step(retry=C2999)\ndef a():\n    pass\n",
            "S102",
        ),
    ],
)
def test_bad_files_are_diagnostics_not_tracebacks(tmp_path: Path, name: str, content: bytes, code: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = stepc("check", "--format", "json", str(path))
    assert result.returncode == 1, result.stderr
    assert no_traceback(result)
    codes = [d["code"] for d in json.loads(result.stdout)]
    assert codes and "S004" not in codes
    if code is not None:
        assert codes == [code]


def test_missing_file(tmp_path: Path) -> None:
    result = stepc("check", str(tmp_path / "missing.py"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert no_traceback(result)


def test_a_directory_is_checked_file_by_file_skipping_hidden_and_virtualenv_folders(tmp_path: Path) -> None:
    broken = "from stepc import step\n\n@step(foo=1)\ndef a():\n    pass\n"
    for folder in ("flows/sub", ".venv/lib", "node_modules/x"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "flow.py").write_text(broken, encoding="utf-8")
    (tmp_path / "flows" / "clean.py").write_text("print('not a flow')\n", encoding="utf-8")
    result = stepc("check", str(tmp_path), "--format", "json")
    assert result.returncode == 1
    files = [d["file"] for d in json.loads(result.stdout)]
    assert files == [str(tmp_path / "flows" / "sub" / "flow.py")]
    assert no_traceback(result)


def test_non_flow_files_pass_and_an_empty_one_is_s003_as_in_run(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("", encoding="utf-8")
    other = tmp_path / "other.py"
    other.write_text("this is not even python(\n", encoding="utf-8")
    result = stepc("check", str(other))
    assert result.returncode == 0, result.stderr
    with_empty = stepc("check", str(empty), str(other))
    assert with_empty.returncode == 1
    assert with_empty.stderr.splitlines()[0] == f"{empty}:1:1: error[S003]: no @step functions found in {empty}"
    all_files = stepc("check", "--all-files", str(other))
    assert all_files.returncode == 1 and "S002" in all_files.stderr


def test_the_class_dialect_example_is_not_an_error() -> None:
    result = stepc("check", str(GOLDEN / "metaflow_style.py"))
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr and "warning" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [("check",), ("check", "--frobnicate", "golden/iris_training.py"), ("check", "--format", "yaml", "x.py")],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = stepc(*args)
    assert result.returncode == 2
    assert no_traceback(result)


def test_ir_of_a_file_with_several_pipelines_lists_them(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(
        "from stepc import pipeline, step\n\n@step\ndef a():\n    return 1\n\n"
        'pipeline("first", steps=[a])\npipeline("second", steps=[a])\n',
        encoding="utf-8",
    )
    result = stepc("ir", str(path))
    assert result.returncode == 1
    assert "S119" in result.stderr and "first, second" in result.stderr
    chosen = stepc("ir", str(path), "--pipeline", "second")
    assert chosen.returncode == 0 and json.loads(chosen.stdout)["name"] == "second"
