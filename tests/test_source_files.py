"""What the front end reads: PEP 263 coding lines as Python honours them, and only regular files
of a bounded size, so that no path a user passes can hang or exhaust ``check``, ``compile`` or
``run``. Real files and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stepc.frontend import read_file
from stepc.frontend.filebytes import MAX_SOURCE_BYTES
from tests.helpers import REPO

LATIN1_FLOW = (
    b"# -*- coding: latin-1 -*-\n"
    b"from stepc import pipeline, step\n"
    b"\n"
    b'@step(outputs=["v"])\n'
    b"def caf\xe9():\n"
    b'    return "\xe9t\xe9"\n'
    b"\n"
    b'@step(inputs=["v"])\n'
    b"def check(v):\n"
    b'    assert v == "\\u00e9t\\u00e9", v\n'
    b'    print("read", v.encode("utf-8").hex())\n'
    b"\n"
    b'pipeline("p", steps=[caf\xe9, check])\n'
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A short timeout: the failure these tests guard against is a hang.
    return subprocess.run(
        [sys.executable, "-m", "stepc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def one(path: Path) -> tuple[str, int, int, str]:
    (diagnostic,) = read_file(str(path)).diagnostics
    return diagnostic.code, diagnostic.line, diagnostic.col, diagnostic.message


# -- PEP 263 ---------------------------------------------------------------------------------------


def test_a_latin1_flow_with_a_coding_line_checks_and_runs(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_bytes(LATIN1_FLOW)
    checked = cli("check", "flow.py", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    ran = cli("run", "flow.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "read " + "été".encode().hex() in ran.stdout + ran.stderr


def test_places_in_a_latin1_file_count_characters(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(
        b"# coding: latin-1\nfrom stepc import step\nX = '\xe9\xe9'\n"
        b"@step(retry='\xe9\xe9', timeout=-1)\ndef a():\n    return 1\n"
    )
    found = [(d.code, d.line, d.col, d.source_line) for d in read_file(str(path)).diagnostics]
    assert ("S114", 4, 27, "@step(retry='éé', timeout=-1)") in found


def test_the_coding_line_may_be_line_2(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n" + LATIN1_FLOW.split(b"\n", 1)[1])
    assert [d.code for d in read_file(str(path)).diagnostics] == []
    assert [p.name for p in read_file(str(path)).pipelines] == ["p"]


def test_a_coding_line_on_line_3_does_not_count(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(b"\n\n" + LATIN1_FLOW)
    code, line, col, message = one(path)
    assert (code, line, col) == ("S001", 7, 8)
    assert "not UTF-8" in message and "0xe9" in message


def test_an_unknown_coding_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(b"#!/usr/bin/env python\n# -*- coding: bogus -*-\nfrom stepc import step\n")
    code, line, col, message = one(path)
    assert (code, line, col) == ("S001", 2, 15)
    assert "unknown encoding 'bogus'" in message
    result = cli("check", "flow.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "flow.py:2:15: error[S001]" in result.stderr and "Traceback" not in result.stderr
    assert "2 | # -*- coding: bogus -*-\n" in result.stderr  # the line, and a caret under the name


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xef\xbb\xbf# coding: latin-1\n", "byte order mark"),
        (b"# coding: rot13\n", "not a text encoding"),
        (b"# coding: utf-16\n", "cannot encode its own coding line"),
    ],
)
def test_codings_python_refuses_are_errors(tmp_path: Path, head: bytes, expected: str) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(head + b"from stepc import step\n")
    with pytest.raises(SyntaxError):
        compile(path.read_bytes(), str(path), "exec")  # what Python itself says of the file
    code, line, _, message = one(path)
    assert (code, line) == ("S001", 1)
    assert expected in message


def test_a_bom_with_a_utf8_coding_line_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(
        b"\xef\xbb\xbf# coding: utf-8\n" + "from stepc import pipeline, step\n@step\ndef é():\n    return 1\n".encode()
    )
    assert read_file(str(path)).diagnostics == ()


def test_bytes_the_declared_coding_cannot_decode(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_bytes(b"# coding: ascii\nfrom stepc import step\nX = '\xe9'\n")
    code, line, col, message = one(path)
    assert (code, line, col) == ("S001", 3, 6)
    assert "ascii" in message and "0xe9" in message


# -- special files ---------------------------------------------------------------------------------


def special_files(tmp_path: Path) -> dict[str, str]:
    """Each kind of path that is no regular file, and what its diagnostic says it is."""
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "link_to_fifo.py").symlink_to(tmp_path / "fifo.py")
    return {"fifo.py": "a FIFO", "zero.py": "a character device", "link_to_fifo.py": "a FIFO"}


@pytest.mark.parametrize("command", [("check",), ("run",), ("compile", "--target", "argo", "-o", "out")])
def test_special_files_are_refused_without_being_read(tmp_path: Path, command: tuple[str, ...]) -> None:
    for name, kind in special_files(tmp_path).items():
        result = cli(command[0], name, *command[1:], cwd=tmp_path)
        assert result.returncode != 0, name
        assert f"{name}:1:1: error[S001]: {name} is {kind}, not a regular file" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_directory_walk_reports_a_fifo_and_reads_the_rest(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "flow.py").write_bytes(LATIN1_FLOW)
    result = cli("check", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert "error[S001]: " in result.stderr and "fifo.py is a FIFO" in result.stderr
    assert "1 error(s), 0 warning(s) in 2 file(s)" in result.stderr


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    with open(path, "wb") as f:
        f.write(b"from stepc import step\n")
        f.truncate(MAX_SOURCE_BYTES + 1)
    result = cli("check", "big.py", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "big.py:1:1: error[S001]: big.py is 10,485,761 bytes, over the 10 MiB (10,485,760 bytes) stepc reads"
        in result.stderr
    )


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    head = b"from stepc import pipeline, step\n@step\ndef a():\n    return 1\n"
    path.write_bytes(head + b"#" * (MAX_SOURCE_BYTES - len(head) - 1) + b"\n")
    assert path.stat().st_size == MAX_SOURCE_BYTES
    result = read_file(str(path))
    assert result.diagnostics == () and len(result.pipelines) == 1


# -- identifiers as Python reads them (NFKC, PEP 3131) ---------------------------------------------

NFKC_FUNCTIONS = """\
from stepc import pipeline, step


@step(outputs=["file"])
def ℌ():
    return 3


@step(inputs=["file"], after=["H"])
def 𝐛(ﬁle):
    print("got", file * 2)


pipeline("p", steps=[ℌ, b])
"""

NFKC_CLASS = """\
from metaflow import FlowSpec, step


class F(FlowSpec):
    @step
    def start(self):
        self.ﬁle = 3
        self.next(self.ℌ)

    @step
    def ℌ(self):
        print("got", self.file * 2)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    F()
"""


@pytest.mark.parametrize("source", [NFKC_FUNCTIONS, NFKC_CLASS], ids=["functions", "class"])
def test_names_python_normalises_are_one_name(tmp_path: Path, source: str) -> None:
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    result = read_file(str(tmp_path / "flow.py"))
    assert result.diagnostics == ()
    (built,) = result.pipelines
    assert "H" in [s.name for s in built.steps] and "ℌ" not in [s.name for s in built.steps]
    ran = cli("run", "flow.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "got 6" in ran.stdout + ran.stderr


def test_a_place_after_a_normalised_name_is_where_it_was_written(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(
        "from stepc import pipeline, step\n@step\ndef ℌ():\n    return 1\npipeline('p', steps=[H, ℌ, 𝐱])\n",
        encoding="utf-8",
    )
    twice, unknown = sorted(read_file(str(path)).diagnostics, key=lambda d: d.col)
    assert (twice.code, twice.line, twice.col, twice.end_col) == ("S117", 5, 25, 26)
    assert twice.message == "step 'H' is listed twice"
    assert (unknown.code, unknown.line, unknown.col, unknown.end_col) == ("S117", 5, 28, 29)
    assert "'x'" in unknown.message


# -- modules the front end follows (for code hashes) -----------------------------------------------

FOLLOWING_FLOW = """\
from stepc import pipeline, step
from helpers import scaled


@step(cache="code_hash")
def a():
    return scaled(2)


pipeline("p", steps=[a])
"""


def code_hash(flow: Path) -> str:
    result = read_file(str(flow))
    assert result.diagnostics == ()
    return result.pipelines[0].steps[0].code_hash


def test_a_helper_module_in_its_declared_coding_is_followed(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FOLLOWING_FLOW, encoding="utf-8")
    helper = tmp_path / "helpers.py"
    helper.write_bytes(b"# coding: latin-1\nSUFFIX = '\xe9'\n\ndef scaled(x):\n    return x * 2\n")
    before = code_hash(flow)
    helper.write_bytes(b"# coding: latin-1\nSUFFIX = '\xe9'\n\ndef scaled(x):\n    return x * 3\n")
    assert code_hash(flow) != before  # read: an undecodable helper would count as absent both times


def test_a_helper_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FOLLOWING_FLOW, encoding="utf-8")
    os.mkfifo(tmp_path / "helpers.py")
    result = cli("check", "flow.py", cwd=tmp_path)  # a read would block until the timeout
    assert result.returncode == 0, result.stderr


def test_a_target_diagnostic_of_a_latin1_flow_shows_its_line(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_bytes(
        b"# coding: latin-1\nfrom stepc import pipeline, step\n\n"
        b"@step(resources={'gpu': 1})\ndef a():  # caf\xe9\n    return 1\n\npipeline('p', steps=[a])\n"
    )
    result = cli("compile", "flow.py", "--target", "gha", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning[T101]" in result.stderr
    assert "5 | def a():  # café\n" in result.stderr, result.stderr
