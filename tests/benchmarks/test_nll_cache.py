"""The test-NLL benchmarks' run folder: a second invocation reads its runs, never retrains."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
import torch

import benchmarks.nll.runs as nll_runs
from benchmarks.nll import earth
from benchmarks.nll.report import run_benchmark
from benchmarks.nll.runs import MissingRunError
from manifold_fm.data.earth import latlon_to_xyz
from manifold_fm.errors import ResumeMismatchError
from manifold_fm.spaces.sphere import Sphere


def _tiny(name: str):
    g = torch.Generator().manual_seed(0)
    latlon = torch.stack(
        [60 + 10 * torch.randn(60, generator=g), 40 * torch.randn(60, generator=g)], -1
    )
    return Sphere(2), latlon_to_xyz(latlon.double()), latlon.double()


@pytest.fixture
def bench():
    return dataclasses.replace(earth.BENCHMARK, load=_tiny)


def _argv(tmp_path, steps=20):
    return [
        "--dataset",
        "volcano",
        "--budget",
        "quick",
        "--seeds",
        "0",
        "1",
        "--steps",
        str(steps),
        "--run-dir",
        str(tmp_path / "runs"),
        "--out-dir",
        str(tmp_path / "out"),
        "--no-png",
    ]


def test_second_run_reads_the_cache(bench, tmp_path, monkeypatch):
    argv = [a for a in _argv(tmp_path) if a != "--no-png"]
    first = run_benchmark(bench, argv)["volcano"]
    assert (tmp_path / "out" / "earth.png").stat().st_size > 10_000
    files = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
    assert files == [
        "volcano_seed0_flow.json",
        "volcano_seed0_peer.json",
        "volcano_seed1_flow.json",
    ]
    for key in (
        "test_nll_rk4_mean",
        "test_nll_novel_mean",
        "test_nll_duplicated_mean",
        "kde_test_nll_mean",
        "kde_test_nll_novel_mean",
        "peer_flow_matching_test_nll",
        "test_nll_seed0",
    ):
        assert key in first
    # the peer is a benchmark extra: with flow_matching it is scored, without it the
    # record says why (the dev install, as in CI, has no flow_matching)
    if importlib.util.find_spec("flow_matching") is not None:
        assert first["peer_flow_matching_test_nll"] is not None
    else:
        assert first["peer_flow_matching_test_nll"] is None
        assert first["peer"]["skipped"] == "flow_matching is not importable"

    def no_training(*a, **k):
        raise AssertionError("retrained a cached run")

    monkeypatch.setattr(nll_runs, "run_seed", no_training)
    second = run_benchmark(bench, [*_argv(tmp_path), "--report-only"])["volcano"]
    assert second["test_nll_mean"] == first["test_nll_mean"]
    doc = json.loads((tmp_path / "out" / "earth.json").read_text())
    assert doc["volcano"]["kde_test_nll_mean"] == first["kde_test_nll_mean"]


def test_changed_settings_and_missing_runs_are_errors(bench, tmp_path):
    run_benchmark(bench, [*_argv(tmp_path), "--no-peer", "--no-report"])
    with pytest.raises(ResumeMismatchError, match="cached with other settings"):
        run_benchmark(bench, [*_argv(tmp_path, steps=30), "--no-peer"])
    with pytest.raises(MissingRunError, match="volcano_seed0_peer"):
        run_benchmark(bench, [*_argv(tmp_path), "--report-only"])


def test_peer_without_flow_matching_is_skipped_with_its_reason(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(nll_runs, "_peer_reason", lambda: "flow_matching is not importable")
    argv = [a for a in _argv(tmp_path) if a != "1"]  # seed 0 only
    entry = run_benchmark(bench, argv)["volcano"]
    assert entry["peer_flow_matching_test_nll"] is None
    assert entry["peer"] == {"seed": 0, "skipped": "flow_matching is not importable"}
    md = (tmp_path / "out" / "earth.md").read_text()
    assert "Peer not run: volcano: flow_matching is not importable." in md


def test_peer_on_several_seeds_is_compared_seed_by_seed(bench, tmp_path, monkeypatch):
    """``--peer-seeds 2`` runs the peer on seeds 0 and 1; the paired row is ours - peer."""
    calls = []

    def fake_run(method, space, data, keys, seed, *a, **k):
        calls.append((seed, method))
        nll = {"flow": 1.0 + seed, "peer": 1.5 + 2 * seed}[method]
        rec = {
            "seed": seed,
            "test_nll": nll,
            "val_nll": nll,
            "best_step": 1,
            "novel_share": 1.0,
            "dup_share": 0.0,
            "wall_s": 0.0,
            "val_history": [[1, nll]],
        }
        return rec, None

    monkeypatch.setattr(nll_runs, "_run", fake_run)
    monkeypatch.setattr(
        nll_runs.RunCache, "model", lambda self, key, space, fit: torch.nn.Linear(1, 1)
    )
    monkeypatch.setattr(nll_runs.RunCache, "save", lambda self, *a: None)
    argv = [*_argv(tmp_path), "--peer-seeds", "2"]
    entry = run_benchmark(bench, argv)["volcano"]
    assert sorted(calls) == [(0, "flow"), (0, "peer"), (1, "flow"), (1, "peer")]
    assert entry["peer_seeds"] == [0, 1]
    assert entry["peer_flow_matching_test_nll"] == 1.5  # the first peer seed, as before
    assert entry["peer_paired_diff_mean"] == pytest.approx(((1 - 1.5) + (2 - 3.5)) / 2)
    assert entry["peer_paired_diff_std"] == pytest.approx(0.7071, abs=1e-4)
    md = (tmp_path / "out" / "earth.md").read_text()
    assert "| ours - peer, paired by seed (mean ± std; < 0: ours lower) | -1.00 ± 0.71 |" in md
    assert "Peer seeds (the paired rows above): volcano [0, 1]." in md


def test_more_peer_seeds_than_seeds_is_refused_before_any_work(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(nll_runs, "_run", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(SystemExit):
        run_benchmark(bench, [*_argv(tmp_path), "--peer-seeds", "3"])
