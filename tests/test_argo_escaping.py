"""No user text reaches Argo as a live template tag.

A corpus of hostile strings goes into every field a user writes (step and pipeline names,
descriptions, tags, env values, parameter defaults of every type, condition literals, the
flow's file name, the store setting, the class dialect's parameter help). The documents must
hold no template tag but the ones stepc writes, must still pass the schemas, the lint, the SDK
and Hera, and must give the process the user's text exactly once Argo and Kubernetes have done
their substitutions: checked by running the pod's command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.argo_engine import container_args, container_env, kube_expand, strings, tags
from tests.helpers import stepc
from tests.injection import HOSTILE
from tests.test_argo_production import checked, containers

# The tags stepc writes itself: every other `{{` would be the user's.
OWN_TAGS = re.compile(
    r"\{\{(?:workflow\.name|workflow\.status|item|inputs\.parameters\.item"
    r"|workflow\.parameters\.[A-Za-z_][A-Za-z0-9_]*"
    r"|tasks\.[a-z0-9-]+\.outputs\.parameters\.items-[A-Za-z0-9_-]+)\}\}"
)
# An expression tag of stepc's (a condition, a sequence count), as it starts: user text in it
# is only inside string literals, whose braces are escaped, so no `{{` is inside it either.
OWN_EXPRESSION = re.compile(
    r"\{\{=(?:\(|!\(|asInt\(|asFloat\(|len\(jsonpath\(|jsonpath\(|workflow\.parameters\[|tasks\[)"
    r"(?:(?!\{\{).)*\}\}",
    re.DOTALL,
)


STEPS = "stepc.dev/steps"


def hostile_flow(path: Path) -> None:
    lines = ["from stepc import pipeline, step", ""]
    for index, text in enumerate(HOSTILE):
        name = f"s{index}"  # step names hold letters, digits, '_', '-' and '.' only (S103)
        lines += [
            f"@step(name={name!r}, description={text!r}, tags={{{text!r}: {text!r}, 'k': {text!r}}},",
            f"      env={{'V{index}': {text!r}, 'W{index}': 'plain'}},",
            f"      when={f'p{index} != {text!r} and {text!r} in l{index}'!r}, outputs=['o{index}'])",
            f"def f{index}(p{index}: str = {text!r}, l{index}: list = [{text!r}, 'b'], "
            f"d{index}: dict = {{{text!r}: [{text!r}]}}):",
            f"    return p{index}",
            "",
        ]
    lines += [
        "def undo(**outputs):",
        "    pass",
        "",
        "",
        "@step(name='check', tags=['plain', '{{workflow.name}}'], rollback='undo',",
        "      env={'E': '{{workflow.name}} $(HOME) $$ ${{x}}', 'F': '$(E)'})",
        "def check(c0: str = '{{workflow.name}}', c1: str = '$(rm -rf /)'):",
        "    import os",
        "    assert os.environ['E'] == '{{workflow.name}} $(HOME) $$ ${{x}}', os.environ['E']",
        "    assert os.environ['F'] == '$(E)', os.environ['F']",
        "    assert c0 == '{{workflow.name}}' and c1 == '$(rm -rf /)', (c0, c1)",
        "    print('STEPC-CHECKED')",
        "",
    ]
    steps = ", ".join([*(f"f{i}" for i in range(len(HOSTILE))), "check"])
    lines.append(f"pipeline({'{{workflow.name}} $(x) ' + HOSTILE[1]!r}, steps=[{steps}],")
    lines.append(f"         description={HOSTILE[0] + HOSTILE[10]!r})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def live_tags(document: dict[str, Any]) -> list[str]:
    """Template tags in ``document`` that stepc did not write."""
    return [t for t in tags(document) if not OWN_TAGS.fullmatch(t) and not OWN_EXPRESSION.fullmatch(t)]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile")
    flow = root / "flow {{workflow.name}} $(x).py"
    hostile_flow(flow)
    store = "file://" + str(root / "store {{workflow.uid}} $(y)")
    (root / "pyproject.toml").write_text(f"[tool.stepc.argo]\nstore = {store!r}\n", encoding="utf-8")
    result = stepc("compile", flow.name, "--target", "argo", "-o", "-", cwd=root)
    assert result.returncode == 0, result.stderr
    (workflow,) = checked(result.stdout)
    return root, workflow


def test_no_user_text_is_a_live_template(hostile: tuple[Path, dict[str, Any]]) -> None:
    _, workflow = hostile
    assert live_tags(workflow) == []
    for template in workflow["spec"]["templates"]:  # Argo replaces template by template
        assert live_tags(template) == []
    assert len(tags(workflow)) > 50  # the tags stepc writes are there (the check above is not vacuous)


def test_the_check_catches_a_user_tag() -> None:
    assert live_tags({"env": [{"value": "{{workflow.name}}"}]}) == []  # one of stepc's own tags...
    assert live_tags({"env": [{"value": "{{workflow.uid}}"}]}) == ["{{workflow.uid}}"]
    assert live_tags({"a": "x{{", "b": "y}}"}) == ['{{", "b": "y}}']  # a tag across two strings
    assert live_tags({"when": '{{=sprig.env("X")}}'}) == ['{{=sprig.env(\\"X\\")}}']


def test_every_value_reaches_the_process_exactly(hostile: tuple[Path, dict[str, Any]]) -> None:
    _, workflow = hostile
    spec = workflow["spec"]
    values = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    templates = {t["name"]: t for t in spec["templates"]}
    for index, text in enumerate(HOSTILE):
        assert kube_expand(values[f"p{index}"], {"STEPC_LBRACE": "{"}) == text
        assert json.loads(kube_expand(values[f"l{index}"], {"STEPC_LBRACE": "{"})) == [text, "b"]
        assert json.loads(kube_expand(values[f"d{index}"], {"STEPC_LBRACE": "{"})) == {text: [text]}
    boxes = [c for c in containers(workflow)]
    assert len(boxes) == len(HOSTILE) + 2  # the check step and the rollback
    seen_steps = set()
    for template in spec["templates"]:
        container = template.get("container")
        if container is None:
            continue
        env = container_env(container)
        args = container_args(container, {"{{workflow.name}}": "run"})
        if "--rollback" in args:
            seen_steps.add("(rollback)")
        else:
            seen_steps.add(args[args.index("--step") + 1])
        assert args[args.index("--pipeline") + 1] == "{{workflow.name}} $(x) " + HOSTILE[1]
        assert args[3] == "flow {{workflow.name}} $(x).py"
        assert "store {{workflow.uid}} $(y)" in args[args.index("--store") + 1]
        for name, value in env.items():
            if name.startswith("V"):
                assert value == HOSTILE[int(name[1:])]
        notes = template.get("metadata", {}).get("annotations", {})
        if "stepc.dev/tags" in notes:
            assert set(json.loads(notes["stepc.dev/tags"]).values()) <= {*HOSTILE, ""}
    assert seen_steps == {f"s{i}" for i in range(len(HOSTILE))} | {"check", "(rollback)"}
    assert templates  # every template was looked at above


def test_a_hostile_when_is_one_tag(hostile: tuple[Path, dict[str, Any]]) -> None:
    _, workflow = hostile
    tasks = workflow["spec"]["templates"][0]["dag"]["tasks"]
    whens = [t["when"] for t in tasks if "when" in t]
    assert len(whens) == len(HOSTILE)
    for when in whens:
        assert when.startswith("{{=") and when.endswith("}}")
        assert when.count("{{") == 1 and when.count("}}") == 1 and OWN_EXPRESSION.fullmatch(when)


def test_the_pod_command_gets_the_users_text(hostile: tuple[Path, dict[str, Any]]) -> None:
    """The check step's container, run here with Argo's substitutions and Kubernetes' expansion
    done as the engine would: the function sees its env and parameter defaults unchanged."""
    root, workflow = hostile
    spec = workflow["spec"]
    values = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    (template,) = [t for t in spec["templates"] if t.get("metadata", {}).get("annotations", {}).get(STEPS) == "check"]
    container = template["container"]
    substitutions = {f"{{{{workflow.parameters.{name}}}}}": value for name, value in values.items()}
    substitutions["{{workflow.name}}"] = "run-1"
    args = container_args(container, substitutions)
    env = {**container_env(container)}
    run = subprocess.run(
        [sys.executable, *args], cwd=root, capture_output=True, text=True, timeout=120, env={**_base_env(), **env}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "STEPC-CHECKED" in run.stdout + run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["status"] == "succeeded"


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "SYSTEMROOT")}


def test_every_string_stays_valid_yaml_text(hostile: tuple[Path, dict[str, Any]]) -> None:
    _, workflow = hostile
    assert all("\x00" not in s for s in strings(workflow))


@pytest.mark.parametrize("image", ["python:{{workflow.name}}", "img:$(TAG)", "repo/{x}"])
def test_an_image_that_is_no_reference_is_an_error(tmp_path: Path, image: str) -> None:
    (tmp_path / "flow.py").write_text(
        f"from stepc import step\n\n\n@step(image={image!r})\ndef a():\n    pass\n", encoding="utf-8"
    )
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert "error[T101]: step 'a' uses an image of its own, which the argo target cannot express" in result.stderr
    assert "is not a container image reference" in result.stderr
    assert not (tmp_path / "out").exists()


CLASS_FLOW = '''from stepc import FlowSpec, Parameter, step


class HostileFlow(FlowSpec):
    """{doc}"""

    alpha = Parameter("alpha", default={text!r}, help={text!r})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.mark.parametrize("text", ["{{workflow.name}}", "{{=1}} $(x)", "{{ item }}"])
def test_class_dialect_help_and_docstring(tmp_path: Path, text: str) -> None:
    (tmp_path / "flow.py").write_text(CLASS_FLOW.format(doc=text, text=text), encoding="utf-8")
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (workflow,) = checked(result.stdout)
    assert live_tags(workflow) == []
    (param,) = workflow["spec"]["arguments"]["parameters"]
    assert kube_expand(param["value"], {"STEPC_LBRACE": "{"}) == text
    assert "{{" not in param["description"] and "%7B" in param["description"]


def test_the_rollbacks_image_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(
        "from stepc import pipeline, step\n\n\ndef undo(**outputs):\n    pass\n\n\n"
        "@step(image='python:3.12', rollback='undo')\ndef a():\n    pass\n\n\n"
        "pipeline('p', steps=[a], image='python:{{workflow.name}}')\n",
        encoding="utf-8",
    )
    result = stepc("compile", "flow.py", "--target", "argo", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert "flow.py:1:1: error[T101]: pipeline 'p' has an image of its own" in result.stderr
    assert "'python:{{workflow.name}}' is not a container image reference" in result.stderr
