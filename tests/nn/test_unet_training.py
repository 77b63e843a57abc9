"""The UNet under the standard Trainer on real MNIST images, and guidance through sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from manifold_fm import Euclidean
from manifold_fm.conditioning import ConditionError
from manifold_fm.data.mnist import MNIST_FILES, load_mnist_split
from manifold_fm.nn import UNet
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer

TINY = {"base_channels": 8, "channel_mults": (1, 2), "attn_heads": 2, "groups": 4}
_ROOT = os.environ.get("MFM_DATA")
needs_mnist = pytest.mark.skipif(
    not _ROOT or not (Path(_ROOT) / MNIST_FILES["images"].relpath).is_file(),
    reason="MFM_DATA/mnist is not available",
)


@needs_mnist
def test_trainer_steps_on_64_mnist_images_lower_the_loss():
    d = load_mnist_split("train")
    data = {"x1": d["x1"][:64], "label": d["label"][:64]}
    torch.manual_seed(0)
    model = UNet(**TINY, n_classes=10)
    cfg = TrainConfig(
        steps=40,
        batch_size=32,
        lr=3e-3,
        warmup_steps=0,
        lr_schedule="constant",
        cond_dropout=0.2,
        ema_decay=0.0,
        log_every=10,
        progress=False,
        device="cpu",
        seed=0,
    )
    res = Trainer(Euclidean((1, 28, 28)), model, data, cfg).fit()
    assert len(res.losses) == 4
    assert res.losses[-1] < 0.8 * res.losses[0]


def _model() -> UNet:
    torch.manual_seed(0)
    m = UNet(**TINY, n_classes=10).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def _draw(model, label=None, w=None, method="euler", steps=3):
    cond = None if label is None else {"label": label}
    gen = torch.Generator().manual_seed(3)
    return sample(
        model,
        Euclidean((1, 28, 28)),
        4,
        steps=steps,
        method=method,
        cond=cond,
        guidance_scale=w,
        generator=gen,
    )


def test_guidance_scale_0_is_the_null_class_and_1_the_conditional_model():
    m, y = _model(), torch.tensor([0, 3, 5, 9])
    uncond, cond = _draw(m).x, _draw(m, y).x
    assert (uncond - cond).abs().max() > 1e-4  # the label matters at all
    torch.testing.assert_close(_draw(m, y, 0.0).x, uncond)
    torch.testing.assert_close(_draw(m, y, 1.0).x, cond)
    guided = _draw(m, y, 3.0)
    assert guided.nfe == 6  # a guided evaluation counts as two
    assert (guided.x - cond).abs().max() > 1e-4
    for method in ("midpoint", "rk4"):
        torch.testing.assert_close(_draw(m, y, 1.0, method).x, _draw(m, y, None, method).x)


def test_guidance_on_a_unet_without_classes_is_refused():
    m, y = UNet(**TINY), torch.tensor([0, 3, 5, 9])
    with pytest.raises(ConditionError, match="label"):
        _draw(m, y, 3.0)
    with pytest.raises(ValueError, match="condition"):
        _draw(_model(), None, 3.0)  # guidance without a condition to guide towards


@needs_mnist
def test_mfm_train_then_sample_on_the_mnist_config(tmp_path, capsys):
    from manifold_fm.cli import main

    config = Path(__file__).resolve().parents[2] / "configs" / "mnist.toml"
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            str(config),
            "--set",
            "train.steps=2",
            "--set",
            "train.batch_size=8",
            "--set",
            "train.progress=false",
            "--set",
            "train.log_every=1",
            "--set",
            f"train.out_dir='{out}'",
            "--set",
            "model.base_channels=8",
        ]
    )
    assert rc == 0 and '"steps": 2' in capsys.readouterr().out
    samples = tmp_path / "s.pt"
    argv = ["sample", str(out / "ckpt.pt"), "--n", "3", "--steps", "2", "--out", str(samples)]
    assert main([*argv, "--method", "rk4"]) == 0
    saved = torch.load(samples)
    assert saved["x"].shape == (3, 1, 28, 28) and saved["nfe"] == 8  # rk4: 4 per step
