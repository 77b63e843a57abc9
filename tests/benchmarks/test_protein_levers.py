"""The protein lever ablations: one lever off, the main run's schedule and curve kept."""

from __future__ import annotations

import json

import pytest
from _shared_data import PROTEIN_DATA, needs_proteins

from benchmarks.common.results_io import validate_results
from benchmarks.protein import levers as protein_levers
from benchmarks.protein.budgets import BUDGETS


def test_lever_budget_switches_exactly_one_lever_and_keeps_the_rest():
    b = BUDGETS["cpu"]
    no_aux = protein_levers.lever_budget(b, "no_aux")
    assert no_aux.space["aux_atom_weight"] == 0.0 and no_aux.space["aux_pair_weight"] == 0
    assert no_aux.space["trans_scale"] == b.space["trans_scale"]
    assert b.space["aux_atom_weight"] > 0  # the budget itself is not mutated
    no_sc = protein_levers.lever_budget(b, "no_self_condition")
    assert no_sc.self_condition is False and not no_sc.self_conditioned and b.self_conditioned
    assert protein_levers.lever_budget(b, "independent").coupling == "independent"
    assert {k: v for k, v in no_aux.as_dict().items() if k != "space"} == {
        k: v for k, v in b.as_dict().items() if k != "space"
    }
    with pytest.raises(ValueError, match="unknown lever 'no_ema'"):
        protein_levers.lever_budget(b, "no_ema")


def test_a_missing_main_run_is_named_before_any_training(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"plan\.json is missing"):
        protein_levers.main(
            [
                "--budget",
                "smoke",
                "--main-run-dir",
                str(tmp_path / "none"),
                "--out-dir",
                str(tmp_path / "out"),
            ]
        )
    with pytest.raises(ValueError, match=r"--chunks must be in 1\.\.2"):
        protein_levers.main(["--budget", "smoke", "--chunks", "3", "--main-run-dir", str(tmp_path)])
    assert not (tmp_path / "out").exists()


@needs_proteins
def test_smoke_ablation_follows_the_main_runs_steps_and_curve(tmp_path):
    from benchmarks.protein import benchmark as protein

    main_dir, out = tmp_path / "protein_smoke", tmp_path / "out"
    protein.main(
        [
            "--budget",
            "smoke",
            "--root",
            str(PROTEIN_DATA),
            "--out-dir",
            str(out),
            "--run-dir",
            str(main_dir),
        ]
    )
    plan = json.loads((main_dir / "plan.json").read_text())
    doc = protein_levers.main(
        [
            "--budget",
            "smoke",
            "--chunks",
            "1",
            "--levers",
            "no_aux",
            "--root",
            str(PROTEIN_DATA),
            "--main-run-dir",
            str(main_dir),
            "--out-dir",
            str(out),
        ]
    )
    validate_results(doc, "protein_levers")
    abl = json.loads((main_dir.parent / "protein_smoke_no_aux" / "plan.json").read_text())
    assert abl["steps"] == plan["steps"]
    assert [r["step"] for r in doc["levers"]["no_aux"]] == [plan["curve"][0]["step"]]
    assert doc["main_curve"][0]["ca_ca_mad"] == plan["curve"][0]["ca_ca_mad"]
    assert (out / "protein_levers.md").read_text().count("| no_aux |") == 1
    assert (out / "protein_levers.png").stat().st_size > 0
