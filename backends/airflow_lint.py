"""stepc's own Airflow lint: what must hold of a generated DAG file before it is written.

Airflow's own check is importing the file (the tests do that with ``DagBag``); this one needs
no Airflow: the file parses, imports only Airflow (and, in Kubernetes mode, the Kubernetes
client) besides the standard library, holds no f-string (so no Jinja can hide in one), keeps
every shell command free of template expressions, and gives tasks valid, unique ids.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter

KEY = re.compile(r"[A-Za-z0-9_.-]{1,250}\Z")


def lint_dag(text: str, allowed: set[str]) -> list[str]:
    """Every problem found in the text of a DAG file; empty when clean. ``allowed``: the
    top-level packages besides the standard library it may import."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [f"not valid Python: {exc.msg} (line {exc.lineno})"]
    problems: list[str] = []
    task_ids: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            problems.extend(_check_import(node, allowed))
        elif isinstance(node, ast.JoinedStr):
            problems.append(f"line {node.lineno}: an f-string (a template expression could hide in one)")
        elif isinstance(node, ast.keyword) and node.arg in ("task_id", "dag_id"):
            value = node.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                if node.arg == "task_id":
                    problems.append(f"line {value.lineno}: task_id is not a string literal")
                continue
            if not KEY.match(value.value):
                problems.append(f"{node.arg} {value.value!r} is not [A-Za-z0-9_.-], 1 to 250 characters")
            if node.arg == "task_id":
                task_ids.append(value.value)
        elif isinstance(node, ast.keyword) and node.arg in ("bash_command", "arguments"):
            for const in ast.walk(node.value):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and _templated(const.value):
                    problems.append(f"line {const.lineno}: a shell command holds a template expression")
    duplicates = sorted(t for t, n in Counter(task_ids).items() if n > 1)
    if duplicates:
        problems.append(f"task ids are not unique: {duplicates}")
    return problems


def _templated(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def _check_import(node: ast.Import | ast.ImportFrom, allowed: set[str]) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return [f"line {node.lineno}: a relative import"]
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    problems = []
    for name in names:
        top = name.split(".")[0]
        if top not in allowed and top not in sys.stdlib_module_names and top != "__future__":
            problems.append(f"line {node.lineno}: imports {name!r}: a DAG file may import only {sorted(allowed)}")
    return problems
