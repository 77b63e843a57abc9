"""The learning-curve figure of the test-NLL benchmarks reads the committed histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.common.results_io import make_meta
from benchmarks.nll.curves import CurveDataError, curves, main

REPO = Path(__file__).resolve().parents[2]


def _doc(with_peer: bool = True, drop_seed: int | None = None) -> dict:
    runs = []
    for seed in (0, 1):
        run = {"seed": seed, "val_history": [[10, 1.0 - seed], [20, 0.5 - seed]]}
        if seed == drop_seed:
            del run["val_history"]
        runs.append(run)
    peer = {"seed": 0, "val_history": [[10, 1.2], [20, 0.7]]}
    entry = {"per_run": runs, "peer": peer, "peers": [peer, {"seed": 1, "skipped": "absent"}]}
    if not with_peer:
        entry.pop("peer")
        entry.pop("peers")
    return {"meta": make_meta("toy", seeds=[0, 1], wall_s=1.0, argv=[]), "set": entry}


def test_curves_collect_every_seed_and_the_scored_peers():
    panels = curves(_doc(), "toy.json")
    assert set(panels) == {"set"}
    assert panels["set"]["seeds"][1] == ([10, 20], [0.0, -0.5])
    assert panels["set"]["peers"] == {0: ([10, 20], [1.2, 0.7])}  # the skipped seed left out
    assert curves(_doc(with_peer=False), "toy.json")["set"]["peers"] == {}


def test_a_missing_history_is_named_by_file_dataset_and_seed():
    with pytest.raises(CurveDataError, match=r"toy\.json: set seed 1: no 'val_history'"):
        curves(_doc(drop_seed=1), "toy.json")


def test_main_writes_a_png_and_names_a_missing_results_file(tmp_path):
    (tmp_path / "toy.json").write_text(json.dumps(_doc()))
    out = main(["--results", str(tmp_path), "--benchmarks", "toy"])
    assert out == tmp_path / "nll_curves.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError, match=r"absent\.json"):
        main(["--results", str(tmp_path), "--benchmarks", "absent"])


def test_the_committed_earth_and_torus_results_carry_every_history():
    for name in ("earth", "torus"):
        doc = json.loads((REPO / "benchmarks" / "results" / f"{name}.json").read_text())
        panels = curves(doc, f"{name}.json")
        for panel in panels.values():
            assert len(panel["seeds"]) == 5
            assert all(len(steps) >= 2 for steps, _ in panel["seeds"].values())
