"""Per-step engine settings (``@step(engine=...)``, ``@engine``) and secrets: what each target
writes, checked by the engines' own validators, and the diagnostics for wrong keys and values,
at the place they are written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argo_schema import VERSIONS, _shipped, validation_errors
from tests.helpers import REPO, stepc
from tests.test_argo_models import assert_models_load

FLOW = REPO / "tests" / "flows" / "engine" / "settings.py"
CLASS_FLOW = REPO / "tests" / "flows" / "engine" / "settings_class.py"
LABEL = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def compiled(flow: Path, target: str, out: Path, cwd: Path = REPO) -> dict[str, str]:
    """The files ``stepc compile`` writes for ``target``, by path relative to ``out``."""
    result = stepc("compile", str(flow), "--target", target, "-o", str(out), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*")) if p.is_file()}


def failing(tmp_path: Path, source: str, target: str = "argo", toml: str = "") -> str:
    """stderr of a compile that must fail with diagnostics (exit 1, no traceback)."""
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    if toml:
        (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    result = stepc("compile", "flow.py", "--target", target, "-o", "-", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def place(source: str, text: str) -> str:
    """``line:col`` of the first ``text`` in ``source``, found independently of stepc."""
    for number, line in enumerate(source.splitlines(), 1):
        if text in line:
            return f"{number}:{line.index(text) + 1}"
    raise AssertionError(f"{text!r} is not in the source")


def flow_with(engine: str, extra: str = "") -> str:
    return f"from stepc import step\n\n\n@step(engine={engine}{extra})\ndef a():\n    pass\n"


# --- Argo -------------------------------------------------------------------------------------


def argo_template(text: str, name: str) -> dict[str, Any]:
    (workflow,) = [d for d in yaml.safe_load_all(text) if d]
    return next(t for t in workflow["spec"]["templates"] if t["name"] == name)


@pytest.mark.parametrize("version", VERSIONS)
def test_argo_pod_settings_validate_against_the_strict_schemas(tmp_path: Path, version: str) -> None:
    (text,) = compiled(FLOW, "argo", tmp_path).values()
    for document in yaml.safe_load_all(text):
        if document:
            assert validation_errors(document, version) == []
            assert validation_errors(document, version, shipped=True) == []


def test_argo_pod_settings_load_in_the_sdk_and_hera(tmp_path: Path) -> None:
    (text,) = compiled(FLOW, "argo", tmp_path).values()
    assert_models_load(text)


def test_argo_writes_each_setting_where_argo_reads_it(tmp_path: Path) -> None:
    (text,) = compiled(FLOW, "argo", tmp_path).values()
    extract = argo_template(text, "extract")
    assert extract["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert extract["nodeSelector"] == {"pool": "highmem"}
    assert extract["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [v["name"] for v in extract["volumes"]] == ["shm", "data"]
    assert extract["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert extract["container"]["volumeMounts"] == [
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "data", "mountPath": "/data"},
    ]
    assert json.loads(extract["podSpecPatch"]) == {"terminationGracePeriodSeconds": 60}
    # secrets: each a key of the configured Kubernetes secret, as the variable of its name
    env = {e["name"]: e for e in extract["container"]["env"]}
    assert env["API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "training-secrets", "key": "API_TOKEN"}}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "DB_PASSWORD"
    # the user's label, and the tags as labels; the annotation keeps the tags as written
    labels = extract["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "training"
    assert labels["tags.stepc.dev/tier"] == "gold"
    assert re.fullmatch(r"ML-Platform-[0-9a-f]{8}", labels["tags.stepc.dev/team"])
    assert json.loads(extract["metadata"]["annotations"]["stepc.dev/tags"]) == {"team": "ML Platform!", "tier": "gold"}
    report = argo_template(text, "report")
    assert report["metadata"]["labels"] == {"tags.stepc.dev/nightly": ""}
    assert "tolerations" not in report and "env" not in report["container"]


def test_tags_become_valid_distinct_deterministic_labels(tmp_path: Path) -> None:
    tags = {
        "a" * 80: "b" * 80,
        "a" * 81: "x",
        "release/2024": "v1.2 (beta)",
        "release-2024": "",
        "!!!": "-edge-",
        "ünïcode": "ok",
    }
    source = f"from stepc import step\n\n\n@step(tags={tags!r})\ndef a():\n    pass\n"
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    first = compiled(tmp_path / "flow.py", "argo", tmp_path / "one", cwd=tmp_path)
    again = compiled(tmp_path / "flow.py", "argo", tmp_path / "two", cwd=tmp_path)
    assert first == again
    labels = argo_template(next(iter(first.values())), "a")["metadata"]["labels"]
    assert len(labels) == len(tags)  # no two tags became one label
    for key, value in labels.items():
        prefix, _, name = key.partition("/")
        assert prefix == "tags.stepc.dev" and 0 < len(name) <= 63 and LABEL.match(name), key
        assert len(value) <= 63 and LABEL.match(value), value
    assert labels["tags.stepc.dev/release-2024"] == ""  # a valid tag is kept as it is
    for version in VERSIONS:
        assert validation_errors(yaml.safe_load(next(iter(first.values()))), version) == []


def test_project_defaults_apply_to_every_pod_and_a_step_overrides_them(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.stepc.argo]\ntolerations = [{key = "spot", operator = "Exists"}]\nnode_selector = {pool = "cpu"}\n',
        encoding="utf-8",
    )
    source = (
        "from stepc import step\n\n\n"
        "def undo(x):\n    pass\n\n\n"
        "@step(outputs=['x'], rollback=undo)\ndef a():\n    return 1\n\n\n"
        "@step(inputs=['x'], engine={'argo': {'node_selector': {'pool': 'gpu'}, 'tolerations': []}})\n"
        "def b(x):\n    pass\n"
    )
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    (text,) = compiled(tmp_path / "flow.py", "argo", tmp_path / "out", cwd=tmp_path).values()
    a, b = argo_template(text, "a"), argo_template(text, "b")
    assert a["tolerations"] == [{"key": "spot", "operator": "Exists"}] and a["nodeSelector"] == {"pool": "cpu"}
    assert "tolerations" not in b and b["nodeSelector"] == {"pool": "gpu"}
    assert argo_template(text, "stepc-rollback")["tolerations"] == [{"key": "spot", "operator": "Exists"}]


def test_the_kubernetes_shapes_agree_with_argos_schema() -> None:
    from stepc.backends.kube_fields import SHAPES, VOLUME_SOURCES

    json_types = {"string": "string", "integer": "integer", "boolean": "boolean", "table": "object"}
    for version in VERSIONS:
        definitions = _shipped(version)["definitions"]
        volume = definitions["io.k8s.api.core.v1.Volume"]["properties"]
        assert set(VOLUME_SOURCES) == set(volume) - {"name"}, version
        for name, shape in SHAPES.items():
            upstream = definitions[f"io.k8s.api.core.v1.{name}"]
            assert set(shape.fields) == set(upstream["properties"]), (version, name)
            assert set(shape.required) == set(upstream.get("required", [])), (version, name)
            for field, kind in shape.fields.items():
                spec = upstream["properties"][field]
                if isinstance(kind, tuple):
                    assert spec["type"] == "array" and spec["items"]["$ref"].endswith(f".{kind[1]}")
                elif kind in SHAPES:
                    assert spec["$ref"].endswith(f".{kind}"), (name, field)
                elif kind == "quantity":
                    assert spec["$ref"].endswith(".Quantity")
                elif "$ref" in spec:  # an object described no further here
                    assert kind == "table" and definitions[spec["$ref"].split("/")[-1]]["type"] == "object"
                else:
                    assert spec["type"] == json_types[kind], (name, field)


# --- the other targets --------------------------------------------------------------------------


def test_github_actions_runner_environment_and_secrets_pass_the_linters(tmp_path: Path) -> None:
    from tests.test_gha import validate

    files = compiled(FLOW, "gha", tmp_path)
    (path,) = files
    validate(tmp_path / path)
    jobs = yaml.safe_load(files[path])["jobs"]
    extract, report = jobs["extract"], jobs["report"]
    assert extract["runs-on"] == ["self-hosted", "linux"] and extract["environment"] == "production"
    assert report["runs-on"] == "ubuntu-latest" and "environment" not in report
    # the secrets are in the step that runs the code only: not in checkout or install
    for item in extract["steps"]:
        env = item.get("env", {})
        if item.get("id") == "run-1":
            assert env["API_TOKEN"] == "${{ secrets.API_TOKEN }}"
            assert env["DB_PASSWORD"] == "${{ secrets.DB_PASSWORD }}"
        else:
            assert not {"API_TOKEN", "DB_PASSWORD"} & set(env)
    assert "secrets." not in json.dumps(extract["env"]) and "secrets." not in json.dumps(report)


def test_valohai_environment_groups_and_secrets_pass_valohai_yaml(tmp_path: Path) -> None:
    from tests.test_valohai import check_valohai

    (text,) = compiled(FLOW, "valohai", tmp_path).values()
    check_valohai(text)
    steps = {item["step"]["name"]: item["step"] for item in yaml.safe_load(text) if "step" in item}
    extract = steps["extract"]
    assert extract["environment"] == "aws-eu-west-1-r5-2xlarge"
    assert extract["environment-variable-groups"] == ["warehouse"]
    variables = {v["name"]: v for v in extract["environment-variables"]}
    assert variables["API_TOKEN"] == {"name": "API_TOKEN", "optional": False}  # no default: Valohai's secret
    assert "environment-variable-groups" not in steps["report"]


AIRFLOW_SCRIPT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
tasks = {}
for dag in bag.dags.values():
    for t in dag.tasks:
        # Rendered as a worker would, with the Variables Airflow would look up.
        context = {"run_id": "R", "params": {}, "var": {"value": {"API_TOKEN": "tok", "DB_PASSWORD": "pw"}}}
        env = {k: t.render_template(v, context) for k, v in (t.env or {}).items()}
        tasks[t.task_id] = {"pool": t.pool, "queue": t.queue, "priority_weight": t.priority_weight, "env": env}
print("STEPC " + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": tasks}))
"""


def test_airflow_queue_pool_priority_and_secrets_load_in_airflow(tmp_path: Path) -> None:
    from tests import airflow_env
    from tests.test_airflow import airflow_environ

    python = airflow_env.ensure()
    files = compiled(FLOW, "airflow", tmp_path / "dags")
    (path,) = files
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    done = subprocess.run(
        [str(python), "-c", AIRFLOW_SCRIPT, str(tmp_path / "dags" / path)],
        capture_output=True, text=True, env=airflow_environ(home), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("STEPC "))[6:])
    assert found["errors"] == {}
    extract, report = found["tasks"]["extract"], found["tasks"]["report"]
    assert (extract["pool"], extract["queue"], extract["priority_weight"]) == ("warehouse", "highmem", 10)
    assert extract["env"]["API_TOKEN"] == "tok" and extract["env"]["DB_PASSWORD"] == "pw"
    assert report["pool"] == "default_pool" and report["priority_weight"] == 1 and "API_TOKEN" not in report["env"]


def test_airflow_refuses_secrets_in_the_items_of_a_bash_foreach(tmp_path: Path) -> None:
    source = "from stepc import step\n\n\n@step(foreach='xs', secrets=['TOKEN'])\ndef a(xs: list = [1]):\n    pass\n"
    stderr = failing(tmp_path, source, "airflow")
    assert "flow.py:5:1: error[T101]: step 'a' uses secrets, which the airflow target cannot express" in stderr
    assert 'operator = "kubernetes"' in stderr


# --- the class dialect and the IR -------------------------------------------------------------


def test_the_class_dialect_decorator_gives_the_same_settings(tmp_path: Path) -> None:
    ir = json.loads(stepc("ir", str(CLASS_FLOW), check=True).stdout)
    start = next(s for s in ir["steps"] if s["name"] == "start")
    assert start["secrets"] == ["API_TOKEN"]
    assert [(e["target"], e["key"]) for e in start["engine"]] == [
        ("argo", "tolerations"),
        ("argo", "labels"),
        ("airflow", "queue"),
        ("gha", "environment"),
        ("valohai", "environment"),
    ]
    source = CLASS_FLOW.read_text(encoding="utf-8")
    line, col = place(source, "labels").split(":")
    assert start["engine"][1]["span"]["line"] == int(line) and start["engine"][1]["span"]["col"] == int(col) - 1
    (text,) = compiled(CLASS_FLOW, "argo", tmp_path).values()
    template = argo_template(text, "start")
    assert template["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert template["container"]["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "stepc-secrets", "key": "API_TOKEN"}


def test_the_class_dialect_reports_an_unknown_target(tmp_path: Path) -> None:
    source = (
        "from stepc import FlowSpec, engine, step\n\n\nclass F(FlowSpec):\n"
        "    @engine(argoo={})\n    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    stderr = failing(tmp_path, source)
    assert f"flow.py:{place(source, 'argoo')}: error[S101]: unknown target 'argoo' in engine settings" in stderr
    assert "(did you mean 'argo'?)" in stderr


def test_the_ir_holds_settings_only_when_set_and_matches_its_schema() -> None:
    import jsonschema

    schema = json.loads((REPO / "stepc" / "ir_schema.json").read_text(encoding="utf-8"))
    ir = json.loads(stepc("ir", str(FLOW), check=True).stdout)
    jsonschema.Draft202012Validator(schema).validate(ir)
    extract, report = ir["steps"]
    assert extract["secrets"] == ["API_TOKEN", "DB_PASSWORD"]
    assert {e["target"] for e in extract["engine"]} == {"argo", "airflow", "gha", "valohai"}
    assert "engine" not in report and "secrets" not in report
    from stepc.ir_json import from_dict, to_dict

    pipeline = from_dict(ir)
    assert pipeline.steps[0].engine_settings("gha")["environment"].value == "production"
    assert to_dict(pipeline) == ir  # the settings survive a round trip through the IR


# --- diagnostics at the place -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "engine", "key", "message"),
    [
        ("argo", "{'argo': {'nodeSelector': {}}}", "'nodeSelector'", "unknown argo setting 'nodeSelector' in engine= "
         "of step 'a' (did you mean 'node_selector'?); a step may set: affinity, labels, node_selector, "
         "pod_spec_patch, secret, tolerations, volume_mounts, volumes"),
        ("gha", "{'gha': {'runs-on': 'big'}}", "'runs-on'", "unknown gha setting 'runs-on' in engine= of step 'a' "
         "(did you mean 'runs_on'?); a step may set: environment, runs_on"),
        ("airflow", "{'airflow': {'prority_weight': 3}}", "'prority_weight'", "unknown airflow setting "
         "'prority_weight' in engine= of step 'a' (did you mean 'priority_weight'?); a step may set: pool, "
         "priority_weight, queue"),
        ("valohai", "{'valohai': {'enviroment': 'x'}}", "'enviroment'", "unknown valohai setting 'enviroment' in "
         "engine= of step 'a' (did you mean 'environment'?); a step may set: environment, "
         "environment_variable_groups"),
        ("airflow", "{'airflow': {'priority_weight': 'high'}}", "'priority_weight'", "airflow setting "
         "'priority_weight' of step 'a' is a whole number, not 'high'"),
        ("airflow", "{'airflow': {'priority_weight': 0}}", "'priority_weight'", "airflow setting "
         "'priority_weight' of step 'a' is at least 1, not 0"),
        ("argo", "{'argo': {'tolerations': [{'key': 'gpu', 'efect': 'NoSchedule'}]}}", "'tolerations'",
         "argo setting 'tolerations' of step 'a' is not valid: item 0 has no field 'efect' (did you mean 'effect'?)"),
        ("argo", "{'argo': {'tolerations': {'key': 'gpu'}}}", "'tolerations'",
         "argo setting 'tolerations' of step 'a' is a list of tables, not {'key': 'gpu'}"),
        ("argo", "{'argo': {'volumes': [{'name': 'v'}]}}", "'volumes'", "argo setting 'volumes' of step 'a' is "
         "not valid: item 0 needs exactly one source (none given), e.g. emptyDir or persistentVolumeClaim"),
        ("argo", "{'argo': {'volumes': [{'name': 'v', 'persistentVolumeClaim': {'claim': 'c'}}]}}", "'volumes'",
         "argo setting 'volumes' of step 'a' is not valid: item 0.persistentVolumeClaim has no field 'claim' "
         "(did you mean 'claimName'?)"),
        ("argo", "{'argo': {'volume_mounts': [{'name': 'v'}]}}", "'volume_mounts'", "argo setting "
         "'volume_mounts' of step 'a' is not valid: item 0 needs 'mountPath'"),
        ("argo", "{'argo': {'affinity': {'nodeAfinity': {}}}}", "'affinity'", "argo setting 'affinity' of step "
         "'a' is not valid: affinity has no field 'nodeAfinity' (did you mean 'nodeAffinity'?)"),
        ("argo", "{'argo': {'labels': {'bad key!': 'x'}}}", "'labels'", "argo setting 'labels' of step 'a' is "
         "not valid: label key 'bad key!': the name must be 1 to 63 letters, digits, '-', '_' or '.', starting "
         "and ending alphanumeric"),
        ("argo", "{'argo': {'tolerations': [{'key': '{{workflow.name}}'}]}}", "'tolerations'", "argo setting "
         "'tolerations' of step 'a' is free of `{{` (Argo would read it as a template tag), not '{{workflow.name}}'"),
        ("argo", "{'argo': {'pod_spec_patch': 'not: [a mapping'}}", "'pod_spec_patch'", "argo setting "
         "'pod_spec_patch' of step 'a' is a pod spec in YAML or JSON"),
        ("gha", "{'gha': {'environment': '${{ github.actor }}'}}", "'environment'", "gha setting 'environment' of "
         "step 'a' is a text without `${{` (GitHub would evaluate it), not '${{ github.actor }}'"),
    ],
)  # fmt: skip
def test_a_wrong_key_or_value_is_reported_at_its_key(
    tmp_path: Path, target: str, engine: str, key: str, message: str
) -> None:
    source = flow_with(engine)
    stderr = failing(tmp_path, source, target)
    assert f"flow.py:{place(source, key)}: error[T103]: {message}" in stderr


def test_the_front_end_reports_bad_shapes_and_secret_names(tmp_path: Path) -> None:
    cases = [
        (flow_with("{'argoo': {}}"), "'argoo'", "S101", "unknown target 'argoo' in engine settings (did you mean "
         "'argo'?); the targets are: airflow, argo, gha, valohai"),
        (flow_with("['argo']"), "['argo']", "S103", "engine must be a dict from target names to settings"),
        (flow_with("{'argo': ['tolerations']}"), "['tolerations']", "S103", "the argo settings must be a dict"),
        (flow_with("{}", ", secrets=['API-TOKEN']"), "'API-TOKEN'", "S103", "secret name 'API-TOKEN' is not an "
         "environment variable name (letters, digits and '_')"),
        (flow_with("{}", ", secrets=['A', 'A']"), "'A']", "S106", "secrets lists 'A' twice"),
        (flow_with("{}", ", secrets='A'"), "'A'", "S103", "secrets must be a list of strings: write ['A']"),
        (flow_with("{}", ", env={'A': '1'}, secrets=['A']"), "'A']", "S103", "secret 'A' is also set by env="),
    ]  # fmt: skip
    for index, (source, at, code, message) in enumerate(cases):
        folder = tmp_path / str(index)
        folder.mkdir()
        (folder / "flow.py").write_text(source, encoding="utf-8")
        result = stepc("check", "flow.py", cwd=folder)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"flow.py:{place(source, at)}: error[{code}]: {message}" in result.stderr, result.stderr


def test_a_group_must_agree_on_a_setting(tmp_path: Path) -> None:
    source = (
        "from stepc import step\n\n\n"
        "@step(outputs=['x'], group='g', engine={'airflow': {'queue': 'a'}})\ndef a():\n    return 1\n\n\n"
        "@step(inputs=['x'], group='g', engine={'airflow': {'queue': 'b'}})\ndef b(x):\n    pass\n"
    )
    stderr = failing(tmp_path, source, "airflow")
    at = place(source.replace("'queue': 'a'", ""), "'queue'")
    assert (
        f"flow.py:{at}: error[T103]: airflow setting 'queue' of step 'b' differs from step 'a''s: "
        "group 'g' runs as one task, which has one value" in stderr
    )


def test_a_wrong_project_default_is_reported_in_the_toml(tmp_path: Path) -> None:
    toml = '[tool.stepc.argo]\ntolerations = [{key = "gpu", efect = "NoSchedule"}]\n'
    stderr = failing(tmp_path, "from stepc import step\n\n\n@step\ndef a():\n    pass\n", toml=toml)
    assert (
        "pyproject.toml:2:1: error[T103]: setting 'tolerations' in [tool.stepc.argo] is not valid: item 0 has "
        "no field 'efect' (did you mean 'effect'?)" in stderr
    )


def test_settings_of_other_targets_are_left_to_them(tmp_path: Path) -> None:
    source = flow_with("{'gha': {'runs-on': 'x'}}")  # wrong for gha, not argo's business
    (tmp_path / "flow.py").write_text(source, encoding="utf-8")
    assert stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=tmp_path).returncode == 0


def test_a_mount_of_no_volume_is_reported_at_the_mounts(tmp_path: Path) -> None:
    source = flow_with("{'argo': {'volume_mounts': [{'name': 'shm', 'mountPath': '/dev/shm'}]}}")
    stderr = failing(tmp_path, source)
    at = place(source, "'volume_mounts'")
    assert f"flow.py:{at}: error[T103]: step 'a' mounts 'shm', which no volume of its pod is named" in stderr


def test_hostile_strings_in_settings_arrive_as_written_or_are_refused(tmp_path: Path) -> None:
    from tests.test_argo import HOSTILE

    for index, text in enumerate(HOSTILE):
        folder = tmp_path / str(index)
        folder.mkdir()
        toleration = {"key": "k", "operator": "Equal", "value": text}
        source = flow_with(repr({"argo": {"tolerations": [toleration]}, "gha": {"environment": text}}))
        (folder / "flow.py").write_text(source, encoding="utf-8")
        argo = stepc("compile", "flow.py", "--target", "argo", "-o", "-", cwd=folder)
        at_tolerations, at_environment = place(source, "'tolerations'"), place(source, "'environment'")
        if "{{" in text:  # Argo would evaluate it: refused at the key
            assert argo.returncode == 1 and f"flow.py:{at_tolerations}: error[T103]" in argo.stderr
        else:
            assert argo.returncode == 0, argo.stderr
            assert argo_template(argo.stdout, "a")["tolerations"] == [toleration]
            for version in VERSIONS:
                assert validation_errors(yaml.safe_load(argo.stdout.split("\n", 2)[2]), version) == []
        gha = stepc("compile", "flow.py", "--target", "gha", "-o", str(folder / "out"), cwd=folder)
        if "${{" in text:  # GitHub would evaluate it
            assert gha.returncode == 1 and f"flow.py:{at_environment}: error[T103]" in gha.stderr
        else:
            assert gha.returncode == 0, gha.stderr
            (workflow,) = (folder / "out").rglob("*.yml")
            job = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]["a"]
            # GitHub evaluates `${{ '$' }}` back to `$`: what it sees is the text as written
            assert job["environment"].replace("${{ '$' }}", "$") == text
