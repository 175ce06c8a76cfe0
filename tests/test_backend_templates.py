"""A backend renders from its own template source, always through the finalize quoting guard."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from stepc.backends.base import Backend
from stepc.backends.features import ALL_FEATURES

from stepc.config import Config
from stepc.diagnostics import Diagnostic
from stepc.frontend import load
from stepc.ir import Pipeline
from tests.helpers import GOLDEN


def iris() -> Pipeline:
    pipeline, _ = load(str(GOLDEN / "iris_training.py"))
    assert pipeline is not None
    return pipeline


def errors(found: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in found if d.severity == "error"]


def listing_backend(folder: Path, name: str) -> type[Backend]:
    class Listing(Backend):
        NAME = name
        FEATURES = ALL_FEATURES
        TEMPLATES = folder

        def documents(self, pipeline: Pipeline) -> Iterable[tuple[str, str]]:
            yield f"{pipeline.name}.txt", self.render("list.j2", pipeline=pipeline, steps=pipeline.steps)

    return Listing


def test_templates_load_from_the_backends_own_folder_and_keep_the_guard(tmp_path: Path) -> None:
    quoted, raw = tmp_path / "quoted", tmp_path / "raw"
    quoted.mkdir()
    raw.mkdir()
    # The same template name in two folders: each backend gets its own (the cache is per source).
    (quoted / "list.j2").write_text("{% for s in steps %}- {{ s.name | yaml }}\n{% endfor %}", encoding="utf-8")
    (raw / "list.j2").write_text("{% for s in steps %}- {{ s.name }}\n{% endfor %}", encoding="utf-8")
    config = Config(None, {})
    files, problems = listing_backend(quoted, "quoted")(config).compile(iris())
    assert errors(problems) == []
    assert files[0].content.endswith('- "load"\n- "split"\n- "make_grid"\n- "train"\n- "evaluate"\n')
    files, problems = listing_backend(raw, "raw")(config).compile(iris())
    assert files == []
    assert [d.code for d in errors(problems)] == ["T201"]
    assert errors(problems)[0].message == (
        "list.j2: template printed an unquoted value 'load': pass it through a quoting filter"
        " (a bug in the raw backend's templates)"
    )


def test_the_built_in_backends_still_read_stepc_templates() -> None:
    from stepc.backends.argo import ArgoBackend

    assert ArgoBackend.TEMPLATES == "stepc.templates"
    files, problems = ArgoBackend(Config(None, {})).compile(iris())
    assert errors(problems) == []
    assert (GOLDEN / "compiled" / "iris-training.argo.yaml").read_text(encoding="utf-8") == files[0].content
