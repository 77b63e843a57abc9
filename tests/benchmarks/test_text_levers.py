"""The faster-learning levers: validated options that reach the trainer, space and network."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest
from _shared_data import data_root_with

from benchmarks.common.results_io import RESULTS
from benchmarks.discrete import levers as text_levers
from benchmarks.discrete.jobs import split_levers
from benchmarks.discrete.run import add_discrete_args, check_discrete_args

ROOT = data_root_with("text")


def test_custom_levers_are_parsed_and_checked():
    assert text_levers.parse_lever("wu:lr=3e-3,warmup_steps=300,time_sampling=stratified") == (
        "wu",
        {"lr": 3e-3, "warmup_steps": 300, "time_sampling": "stratified"},
    )
    with pytest.raises(ValueError, match="NAME:key=value"):
        text_levers.parse_lever("wu")
    with pytest.raises(ValueError, match=r"\['warmup'\] unknown"):
        text_levers.parse_lever("wu:warmup=300")
    with pytest.raises(ValueError, match="unknown lever"):
        text_levers.main(["--levers", "no_such_lever"])


def test_every_named_lever_uses_known_options():
    for name, opts in text_levers.LEVERS.items():
        space, recipe, train = split_levers(opts)
        assert len(space) + len(recipe) + len(train) == len(opts), name


def test_benchmark_lever_options_are_validated_before_work():
    ap = argparse.ArgumentParser()
    add_discrete_args(ap, budget_s=1, dim=8, depth=1, lr=1e-3, n_t=1, samples=1, sample_steps=1)
    check_discrete_args(ap.parse_args(["--time-sampling", "stratified", "--warmup-steps", "5"]))
    with pytest.raises(ValueError, match="did you mean 'stratified'"):
        check_discrete_args(ap.parse_args(["--time-sampling", "stratifed"]))
    with pytest.raises(ValueError, match="unknown kappa schedule"):
        check_discrete_args(ap.parse_args(["--kappa-schedule", "cosin"]))
    with pytest.raises(ValueError, match="warmup_steps"):
        check_discrete_args(ap.parse_args(["--warmup-steps", "-1"]))


@pytest.mark.skipif(ROOT is None, reason="shared text data not found")
def test_levers_reach_the_trainer_space_and_network():
    from benchmarks.discrete.gap import make_job

    def job(**opts):
        return make_job("text", "mask", str(ROOT), opts, quick=True)

    assert job(time_sampling="stratified").trainer.config.time_sampling == "stratified"
    j = job(lr=3e-3, warmup_steps=7)
    assert j.trainer.config.lr == 3e-3 and j.trainer.config.warmup_steps == 7
    assert "Cosine" in repr(job(schedule="cosine").space.schedule)
    assert job(loss="elbo").space.loss_kind == "elbo"
    assert job(dim=64, depth=2).net.dim == 64 and len(job(depth=2).net.blocks) == 2
    assert job(batch_size=16).trainer.config.batch_size == 16
    sc = job(self_condition=True)
    assert sc.trainer.config.self_condition and sc.net.self_cond is not None
    assert sc.posterior() is not sc.net  # scored through two passes
    with pytest.raises(ValueError, match="needs steps"):
        job(lr_schedule="cosine")
    with pytest.raises(ValueError, match="time_sampling"):
        job(time_sampling="stratifed")


def test_lever_report_ranks_cached_levers(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    for f in ("text.json", "text.md"):
        shutil.copy(RESULTS / f, out / f)
    runs = tmp_path / "runs" / "480s"
    for name, bpc in (("baseline", 3.9), ("stratified_t", 3.8)):
        (runs / name).mkdir(parents=True)
        (runs / name / "settings.json").write_text(json.dumps({"levers": {"x": name}}))
        (runs / name / "b480.json").write_text(
            json.dumps({"budget_s": 480.0, "steps": 9, "nelbo_bpc": bpc})
        )
    argv = ["--budget", "480", "--run-dir", str(tmp_path / "runs"), "--report"]
    doc = text_levers.main([*argv, "--out-dir", str(out)])
    assert doc["levers_best"] == "stratified_t" and len(doc["levers"]) == 2
    assert "| stratified_t |" in (out / "text.md").read_text()
    with pytest.raises(FileNotFoundError, match="no lever results"):
        text_levers.main(["--budget", "240", "--run-dir", str(tmp_path / "runs"), "--report"])
