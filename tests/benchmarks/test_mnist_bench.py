"""The MNIST benchmark's smoke run end to end (files, schema, rerun reuse)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.common.results_io import validate_results
from benchmarks.mnist.budgets import BUDGETS
from benchmarks.mnist.train import train_model
from manifold_fm import Euclidean
from manifold_fm.data.mnist import MNIST_FILES, load_mnist_split

_ROOT = os.environ.get("MFM_DATA")


@pytest.mark.slow
@pytest.mark.skipif(
    not _ROOT or not (Path(_ROOT) / MNIST_FILES["images"].relpath).is_file(),
    reason="MFM_DATA/mnist is not available",
)
def test_smoke_budget_writes_every_file_and_reuses_its_checkpoint(tmp_path, capsys):
    from benchmarks.mnist import benchmark as mnist
    from benchmarks.mnist.report import markdown

    out, run = tmp_path / "out", tmp_path / "run"
    argv = ["--budget", "smoke", "--out-dir", str(out), "--run-dir", str(run)]
    doc = mnist.main(argv)
    for name in [
        "mnist.json",
        "mnist.md",
        "mnist.png",
        "mnist_uncond.png",
        "mnist_class_w0.png",
        "mnist_class_w1.png",
        "mnist_class_w3.png",
    ]:
        assert (out / name).is_file(), name
    saved = json.loads((out / "mnist.json").read_text())
    validate_results(saved, "mnist")
    assert (out / "mnist.md").read_text() == markdown(saved)
    for key in [
        "fid",
        "fid_floor",
        "classifier_accuracy",
        "bits_per_dim",
        "bits_per_dim_stderr",
        "train_images_per_s",
        "params",
    ]:
        assert isinstance(saved[key], (int, float)), key
    assert set(saved["cond_accuracy"]) == {"0", "1", "3"}
    assert {r["method"] for r in saved["nfe_curve"]} == {"euler", "midpoint", "rk4", "dopri5"}
    assert saved["fid"] > 0 and saved["fid_floor"] > 0
    assert doc["fid"] == saved["fid"]
    # a rerun finds the finished checkpoint and plan and does not train again
    space, data = Euclidean((1, 28, 28)), load_mnist_split("train", seed=mnist.SEED)
    capsys.readouterr()
    again = train_model(space, data, BUDGETS["smoke"], run, mnist.SEED)
    assert "not retraining" in capsys.readouterr().out
    assert again["plan"]["steps"] == saved["train_steps"] == again["trainer"].step
