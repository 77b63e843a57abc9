"""The MNIST benchmark's FID and its smoke run end to end (files, schema, rerun reuse)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from benchmarks._mnist_fid import fid
from benchmarks._mnist_train import train_model
from benchmarks.results_io import validate_results
from manifold_fm import Euclidean
from manifold_fm.data.mnist import MNIST_FILES, load_mnist_split


def test_fid_is_zero_on_itself_and_sees_a_mean_shift_and_a_scale():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = torch.zeros(8, dtype=torch.float64)
    shift[0] = 3.0
    assert fid(a + shift, a) == pytest.approx(9.0, rel=1e-6)  # |mu_a - mu_b|^2
    # N(0, I) vs N(0, 4 I) in d = 8: tr(I + 4I - 2 * 2I) = 8
    b = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    assert fid(2 * b, a) == pytest.approx(8.0, rel=0.1)


_ROOT = os.environ.get("MFM_DATA")


@pytest.mark.slow
@pytest.mark.skipif(
    not _ROOT or not (Path(_ROOT) / MNIST_FILES["images"].relpath).is_file(),
    reason="MFM_DATA/mnist is not available",
)
def test_smoke_budget_writes_every_file_and_reuses_its_checkpoint(tmp_path, capsys):
    from benchmarks import mnist
    from benchmarks._mnist_report import markdown

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
    again = train_model(space, data, mnist.BUDGETS["smoke"], run, mnist.SEED)
    assert "not retraining" in capsys.readouterr().out
    assert again["plan"]["steps"] == saved["train_steps"] == again["trainer"].step
