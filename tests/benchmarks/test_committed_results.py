"""The committed benchmark results follow the schema and their Markdown is their JSON's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.common.results_io import (
    RESULTS,
    ResultsSchemaError,
    default_module,
    validate_results,
)


def _renderers():
    from benchmarks.discrete import sequences, text
    from benchmarks.mnist.report import markdown as mnist_markdown
    from benchmarks.nll import earth, torus
    from benchmarks.nll.report import markdown
    from benchmarks.protein import levers as protein_levers
    from benchmarks.protein.report import markdown as protein_markdown
    from benchmarks.speed import benchmark as speed
    from benchmarks.synthetic import benchmark as synthetic

    return {
        "earth": lambda d: markdown(earth.BENCHMARK, d),
        "torus": lambda d: markdown(torus.BENCHMARK, d),
        "synthetic": synthetic.write_markdown,
        "text": text._markdown,
        "sequences": sequences._markdown,
        "speed": speed.markdown,
        "mnist": mnist_markdown,
        "protein": protein_markdown,
        "protein_levers": protein_levers.markdown,
    }


COMMITTED = sorted(p.stem for p in RESULTS.glob("*.json"))
#: the module of each file's command before the benchmarks became one package each:
#: committed files keep the command they were measured with
FORMER_MODULES = {
    "earth": "benchmarks.earth",
    "torus": "benchmarks.torus",
    "text": "benchmarks.text",
    "sequences": "benchmarks.sequences",
    "protein_levers": "benchmarks.protein_levers",
}


def test_every_committed_result_has_a_renderer():
    assert COMMITTED, f"no results in {RESULTS}"
    assert set(COMMITTED) <= set(_renderers())


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_json_follows_the_schema(name):
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    validate_results(doc, name)
    assert doc["meta"]["benchmark"] == name
    module = doc["meta"]["command"][2]
    assert doc["meta"]["command"][:2] == ["python", "-m"]
    assert module in {default_module(name), FORMER_MODULES.get(name)}
    broken = {k: v for k, v in doc.items() if k != "meta"}
    with pytest.raises(ResultsSchemaError):
        validate_results(broken, name)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_markdown_is_rendered_from_its_json(name):
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    md = Path(RESULTS / f"{name}.md").read_text()
    assert _renderers()[name](doc) == md
