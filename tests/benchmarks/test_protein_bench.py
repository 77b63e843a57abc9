"""The protein benchmark's DSSP check against reference files, its smoke run end to end and
the resume of a killed run (the metrics themselves: tests/proteins/test_protein_metrics.py)."""

from __future__ import annotations

import json

import pytest
from _shared_data import PROTEIN_DATA, needs_proteins

from benchmarks.common.results_io import validate_results
from manifold_fm.proteins.metrics import UNAVAILABLE

DATA = PROTEIN_DATA
needs_data = needs_proteins
needs_dssp = pytest.mark.skipif("dssp" in UNAVAILABLE, reason="pydssp not installed")


@needs_data
@needs_dssp
def test_pydssp_agrees_with_the_ts50_reference_files():
    from benchmarks.protein.data import dssp_agreement
    from manifold_fm.proteins import load_proteins

    ps = load_proteins(DATA / "proteins" / "pdb")
    ref = DATA / "proteins" / "dssp_ts50"
    if not ref.is_dir():
        pytest.skip("no dssp_ts50 reference folder")
    out = dssp_agreement(ps, ref)
    assert out["chains"] == 50 and out["agreement"] > 0.85
    assert dssp_agreement(ps, ref / "absent")["agreement"] is None


@needs_data
def test_smoke_budget_writes_every_file_and_reuses_its_checkpoint(tmp_path, capsys):
    from benchmarks.protein import benchmark as protein

    args = [
        "--budget",
        "smoke",
        "--root",
        str(DATA),
        "--out-dir",
        str(tmp_path / "out"),
        "--run-dir",
        str(tmp_path / "run"),
    ]
    doc = protein.main(args)
    validate_results(doc, "protein")
    out = tmp_path / "out"
    saved = json.loads((out / "protein.json").read_text())
    for name in ("samples", "real", "prior", "random_walk"):
        assert set(saved[name]) >= {
            "ca_ca_mad",
            "clash_rate",
            "rg_ratio",
            "tm_diversity",
            "tm_novelty",
            "rama_distance",
            "helix",
            "strand",
            "coil",
        }
    assert saved["random_walk"]["ca_ca_mad"] < 1e-9 and saved["real"]["clash_rate"] == 0.0
    assert set(saved["per_length"]["samples"]) == {"50", "75"}
    assert len(saved["learning_curve"]) == 2
    assert (out / "protein.md").is_file() and (out / "protein.png").stat().st_size > 0
    assert sorted(p.name for p in (out / "protein_samples").iterdir()) == [
        "len50_0.pdb",
        "len75_0.pdb",
    ]
    capsys.readouterr()
    again = protein.main(args)
    assert "not retraining" in capsys.readouterr().out
    assert again["samples"] == doc["samples"] and again["train_steps"] == doc["train_steps"]


@needs_data
def test_a_run_killed_after_its_first_chunk_resumes_training_from_its_checkpoint(
    tmp_path, monkeypatch
):
    from benchmarks.protein import train as _protein_train
    from benchmarks.protein.budgets import BUDGETS
    from benchmarks.protein.data import split
    from manifold_fm.proteins import load_proteins

    train_set, _ = split(load_proteins(DATA / "proteins" / "pdb", max_length=80), 2, 0)
    b, real_draw, calls = BUDGETS["smoke"], _protein_train.draw, []

    def dies_at_first_curve_point(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt("killed")
        return real_draw(*args, **kw)

    monkeypatch.setattr(_protein_train, "draw", dies_at_first_curve_point)
    with pytest.raises(KeyboardInterrupt):
        _protein_train.train_model(train_set, b, tmp_path, 0, log=lambda m: None)
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["curve"] == []
    monkeypatch.setattr(_protein_train, "draw", real_draw)
    logs = []
    out = _protein_train.train_model(train_set, b, tmp_path, 0, log=logs.append)
    assert f"train: resuming from step {plan['steps'] // 2} of {plan['steps']}" in logs
    assert [r["step"] for r in out["plan"]["curve"]] == [plan["steps"] // 2, plan["steps"]]
    assert out["trainer"].step == plan["steps"]
