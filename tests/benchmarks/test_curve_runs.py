"""Cached, resumable compute curves (benchmarks.discrete.curve_runs) and their report step."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from _shared_data import data_root_with

from benchmarks.common.results_io import RESULTS
from benchmarks.discrete import text
from benchmarks.discrete.curve_runs import RunLockedError, cached_results, run_curve
from benchmarks.discrete.gap_report import budget_to_reach, gap_trend, report

TEXT_ROOT = data_root_with("text")


class Killed(Exception):
    pass


class CountingJob:
    """Burns CPU for the seconds asked, one 'step' per call; may be killed at step k."""

    def __init__(self, tag: str = "a", kill_at: int | None = None) -> None:
        self.settings = {"tag": tag}
        self.steps, self.evals, self.kill_at = 0, 0, kill_at

    def train(self, seconds: float) -> int:
        if self.kill_at is not None and self.steps >= self.kill_at:
            raise Killed
        t0 = time.process_time()
        while time.process_time() - t0 < seconds:
            pass
        self.steps += 1
        return 1

    def evaluate(self) -> dict:
        self.evals += 1
        return {"value": float(self.steps)}

    def state(self) -> dict:
        return {"steps": self.steps}

    def load(self, state: dict) -> None:
        self.steps = int(state["steps"])


def test_budgets_are_cached_and_a_killed_run_resumes(tmp_path):
    job = CountingJob(kill_at=3)  # slices of 0.02 s: budget 0.04 needs 2, 0.1 needs 5
    with pytest.raises(Killed):
        run_curve(tmp_path, [0.04, 0.1], job, slice_s=0.02)
    assert [d["budget_s"] for d in cached_results(tmp_path)] == [0.04]
    assert not (tmp_path / "lock").exists()  # released on the way out
    again = CountingJob()
    out = run_curve(tmp_path, [0.04, 0.1], again, slice_s=0.02)
    assert again.steps >= 3 and again.evals == 1  # resumed from the checkpoint, 0.04 cached
    assert [d["budget_s"] for d in out] == [0.04, 0.1]
    assert out[1]["cpu_s"] >= 0.1 and out[1]["steps"] == again.steps
    third = CountingJob()
    run_curve(tmp_path, [0.04, 0.1], third, slice_s=0.02)
    assert third.evals == 0  # nothing is recomputed


def test_a_folder_refuses_other_settings_and_past_budgets(tmp_path):
    run_curve(tmp_path, [0.05], CountingJob("a"), slice_s=0.05)
    with pytest.raises(ValueError, match="other settings"):
        run_curve(tmp_path, [0.1], CountingJob("b"))
    with pytest.raises(ValueError, match="past the uncached budget"):
        run_curve(tmp_path, [0.01], CountingJob("a"))
    with pytest.raises(ValueError, match="positive"):
        run_curve(tmp_path / "x", [0.0], CountingJob("a"))


def test_a_live_lock_refuses_and_a_stale_one_is_taken_over(tmp_path):
    (tmp_path / "lock").write_text(str(__import__("os").getpid()))
    with pytest.raises(RunLockedError, match="being run by process"):
        run_curve(tmp_path, [0.01], CountingJob())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "lock").write_text(dead.stdout.strip())
    assert run_curve(tmp_path, [0.01], CountingJob())[0]["budget_s"] == 0.01


def test_gap_trend_is_the_slope_per_doubling():
    curve = [
        {"budget_s": b, "ar_bpc": 2.0, "mask_nelbo_bpc": 2.0 + g}
        for b, g in ((240, 1.0), (480, 0.8), (960, 0.6))
    ]
    assert gap_trend(curve) == pytest.approx(-0.2)
    assert gap_trend(curve[:1]) is None


def test_budget_to_reach_extrapolates_the_log_linear_fit_and_refuses_a_receding_one():
    budgets, gap = [240, 480, 960], [1.0, 0.8, 0.6]  # -0.2 per doubling
    assert budget_to_reach(budgets, gap, 0.2, below=True) == pytest.approx(3840)
    assert budget_to_reach(budgets, gap, 0.6, below=True) == pytest.approx(960)
    # a growing gap never reaches a lower target; a falling ratio never reaches a higher one
    assert budget_to_reach(budgets, gap[::-1], 0.2, below=True) is None
    assert budget_to_reach(budgets, gap, 1.5, below=False) is None
    assert budget_to_reach([240], [1.0], 0.6, below=True) is None


def _cache(folder, docs):
    folder.mkdir(parents=True)
    for d in docs:
        (folder / f"b{d['budget_s']:g}.json").write_text(json.dumps(d))


def test_report_adds_the_curves_and_keeps_the_rest(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    for f in ("text.json", "text.md", "sequences.json", "sequences.md"):
        shutil.copy(RESULTS / f, out / f)
    runs = tmp_path / "runs"
    with pytest.raises(FileNotFoundError, match="no cached curve points"):
        report(runs, str(out), {"text": {}, "msa": {}}, ("DHFR",), cached_results)
    _cache(
        runs / "text" / "ar",
        [{"budget_s": b, "bpc": v, "steps": 1} for b, v in ((240, 2.6), (480, 2.4))],
    )
    _cache(
        runs / "text" / "mask",
        [{"budget_s": b, "nelbo_bpc": v, "steps": 1} for b, v in ((240, 3.9), (480, 3.5))],
    )
    _cache(
        runs / "DHFR" / "mask",
        [{"budget_s": 150.0, "pair_r": 0.4, "pair_r_ceiling": 0.85, "steps": 1}],
    )
    before = json.loads((out / "text.json").read_text())
    rf_before = json.loads((out / "sequences.json").read_text())["RF00162"]
    report(runs, str(out), {"text": {"dim": 128}, "msa": {}}, ("DHFR",), cached_results)
    doc = json.loads((out / "text.json").read_text())
    assert [c["budget_s"] for c in doc["gap_curve"]] == [240, 480]
    assert doc["gap_curve"][1]["mask_nelbo_bpc"] - doc["gap_curve"][1]["ar_bpc"] == pytest.approx(
        1.1
    )
    assert doc["gap_trend_bpc_per_doubling"] == pytest.approx(-0.2)
    assert doc["gap_0.6_budget_s_extrapolated"] == pytest.approx(480 * 2 ** (0.5 / 0.2))
    assert doc["meta"] == before["meta"] and doc["ar_bpc"] == before["ar_bpc"]
    assert (out / "text.md").read_text() == text._markdown(doc)
    assert "Gap against compute" in (out / "text.md").read_text()
    seq = json.loads((out / "sequences.json").read_text())
    assert seq["DHFR"]["curve"][0]["pair_r"] == 0.4
    assert seq["RF00162"] == rf_before  # an MSA with no cached points is left as it was
    assert (out / "text_gap.png").stat().st_size > 0
    assert (out / "sequences_curve.png").stat().st_size > 0


@pytest.mark.skipif(TEXT_ROOT is None, reason="shared text data not found")
def test_text_gap_quick_jobs_run_and_resume(tmp_path):
    from benchmarks.discrete.gap import make_job

    for model, key in (("ar", "bpc"), ("mask", "nelbo_bpc")):
        job = make_job("text", model, str(TEXT_ROOT), quick=True)
        out = run_curve(tmp_path / model, [0.3], job, slice_s=0.3)
        assert 0 < out[0][key] < 8 and out[0]["steps"] > 0
    with pytest.raises(ValueError, match="mask model only"):
        make_job("text", "ar", str(TEXT_ROOT), levers={"warmup_steps": 5}, quick=True)


def test_set_warmup_lr_ramps_linearly_then_holds_and_leaves_a_plain_fit_alone():
    import torch

    from benchmarks.discrete.fit import set_warmup_lr

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=0.3)
    set_warmup_lr(opt, 2e-3, 5, 0)
    assert opt.param_groups[0]["lr"] == 0.3  # no warmup: the optimiser's lr is kept
    got = []
    for step in (1, 2, 4, 5, 50):
        set_warmup_lr(opt, 2e-3, step, 4)
        got.append(opt.param_groups[0]["lr"])
    assert got == pytest.approx([5e-4, 1e-3, 2e-3, 2e-3, 2e-3])
