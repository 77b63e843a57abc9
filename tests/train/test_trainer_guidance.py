"""Classifier-free guidance end to end: a model trained with cond_dropout answers to the
guidance scale of ``solvers.sample``."""

from __future__ import annotations

import pytest
import torch

from manifold_fm import Sphere
from manifold_fm.nn import TangentModel, TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer


def _two_caps(n: int = 2000) -> dict[str, torch.Tensor]:
    """label 0: cap around the north pole; label 1: cap around the south pole."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(2, (n,), generator=g)
    pole = torch.stack([torch.zeros(n), torch.zeros(n), 1.0 - 2.0 * labels.float()], -1)
    x = Sphere(2).projx(pole + 0.25 * torch.randn(n, 3, generator=g))
    return {"x1": x, "label": labels}


@pytest.mark.slow
def test_guidance_scale_moves_samples_towards_the_condition():
    s = Sphere(2)
    torch.manual_seed(0)
    model = TangentModel(s, TimeMLP.for_space(s, hidden=64, depth=2, n_classes=2))
    cfg = TrainConfig(
        steps=400,
        batch_size=256,
        lr=3e-3,
        warmup_steps=20,
        cond_dropout=0.3,
        ema_decay=0.9,
        log_every=100,
        progress=False,
    )
    trainer = Trainer(s, model, _two_caps(), cfg)
    trainer.fit()

    def mean_z(label: int, w: float) -> float:
        gen = torch.Generator().manual_seed(1)
        cond = {"label": torch.full((600,), label, dtype=torch.long)}
        res = sample(
            trainer.ema_model, s, 600, steps=30, cond=cond, guidance_scale=w, generator=gen
        )
        assert res.nfe == 60  # a guided evaluation counts as two
        return float(res.x[:, 2].mean())

    uncond = mean_z(0, 0.0)  # w = 0: the unconditional model, an even mixture of caps
    north, south = mean_z(0, 1.0), mean_z(1, 1.0)
    north2 = mean_z(0, 2.0)
    assert abs(uncond) < 0.3
    assert north > 0.7 and south < -0.7
    assert north2 > north  # w > 1 sharpens towards the condition
