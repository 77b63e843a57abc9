"""Rows and files of the speed benchmark: the row schema of each topic, speed.json merging."""

from __future__ import annotations

import json
import sys
import types

import pytest

from benchmarks.common.results_io import validate_results
from benchmarks.speed import benchmark as speed


def test_speed_rows_quick_schema():
    pytest.importorskip("roma", reason="roma is a benchmark extra: pip install -e .[bench]")
    from benchmarks.speed.lie import rows

    rs = rows(quick=True)
    names = [(r["name"], r["peer"].split(" ")[0]) for r in rs]
    for want in [("so3_exp_1e6", "roma"), ("so3_log_1e6", "roma"), ("so3_exp_1e6", "e3nn")]:
        assert want in names
    assert any(n == "geodesic_path_se3_128" for n, _ in names)
    for r in rs:
        assert {"name", "unit", "ours", "peer", "peer_value", "ratio"} <= set(r)
        assert r["ours"] > 0 and r["peer_value"] > 0
        assert r["ratio"] == pytest.approx(r["peer_value"] / r["ours"])
        if r["name"].startswith("so3_"):
            assert r["max_error"] < 1e-5 and "peer_max_error" in r
            assert r["nan_sweep_nonfinite_values"] == 0 and r["nan_sweep_nonfinite_grads"] == 0


@pytest.fixture
def fake_topic(monkeypatch):
    """A speed topic ``fake`` whose one row costs nothing to measure."""
    mod = types.ModuleType("benchmarks.speed.fake")
    mod.rows = lambda quick=False: [
        {
            "name": "fake_row",
            "unit": "ms",
            "ours": 1.0,
            "peer": "p",
            "peer_value": 2.0,
            "ratio": 2.0,
        }
    ]
    monkeypatch.setitem(sys.modules, "benchmarks.speed.fake", mod)
    monkeypatch.setattr(speed, "TOPICS", [*speed.TOPICS, "fake"])


def test_partial_run_keeps_other_topics_rows(tmp_path, fake_topic):
    speed.main(["--only", "fake", "--threads", "1", "--out-dir", str(tmp_path)])
    first = json.loads((tmp_path / "speed.json").read_text())
    validate_results(first, "speed")
    assert [r["name"] for r in first["rows"]] == ["fake_row"]
    assert first["rows"][0]["threads"] == 1 and first["topics"] == ["fake"]
    assert first["meta"]["command"][-2:] == ["--out-dir", str(tmp_path)]
    assert "| fake_row | ms | 1 | p | 2 | 2.00 |" in (tmp_path / "speed.md").read_text()

    kept = {"name": "kept_row", "unit": "ms", "ours": 1.0, "peer": "q", "peer_value": 1.0}
    first["rows"].append({**kept, "ratio": 1.0, "topic": "other"})
    (tmp_path / "speed.json").write_text(json.dumps(first))
    second = speed.main(["--only", "fake", "--threads", "1", "--out-dir", str(tmp_path)])
    assert [r["name"] for r in second["rows"]] == ["kept_row", "fake_row"]


def test_failing_topic_is_reported_not_raised(tmp_path, monkeypatch, fake_topic):
    def broken(quick=False):
        raise RuntimeError("peer missing")

    monkeypatch.setattr(sys.modules["benchmarks.speed.fake"], "rows", broken)
    doc = speed.main(["--only", "fake", "--out-dir", str(tmp_path)])
    assert doc["rows"] == [] and "peer missing" in doc["errors"]["fake"]
    assert "- fake: RuntimeError: peer missing" in (tmp_path / "speed.md").read_text()
