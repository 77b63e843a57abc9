"""The committed benchmark results follow the schema and their Markdown is their JSON's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.results_io import RESULTS, ResultsSchemaError, validate_results


def _renderers():
    from benchmarks import earth, protein_levers, sequences, speed, synthetic, text, torus
    from benchmarks._mnist_report import markdown as mnist_markdown
    from benchmarks._nll_report import markdown
    from benchmarks._protein_report import markdown as protein_markdown

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


def test_every_committed_result_has_a_renderer():
    assert COMMITTED, f"no results in {RESULTS}"
    assert set(COMMITTED) <= set(_renderers())


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_json_follows_the_schema(name):
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    validate_results(doc, name)
    assert doc["meta"]["benchmark"] == name
    assert doc["meta"]["command"][:3] == ["python", "-m", f"benchmarks.{name}"]
    broken = {k: v for k, v in doc.items() if k != "meta"}
    with pytest.raises(ResultsSchemaError):
        validate_results(broken, name)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_markdown_is_rendered_from_its_json(name):
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    md = Path(RESULTS / f"{name}.md").read_text()
    assert _renderers()[name](doc) == md
