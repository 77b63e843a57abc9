"""The shared Trainer drives a CTMCSpace (with padding masks) and a continuous x CTMC product."""

from __future__ import annotations

import torch
from discrete_toy import PottsToy
from test_discrete_product import CENTRES, JointNet, data
from test_discrete_trained import ToyMLP

from discrete_fm import CTMCSpace, elbo, sample_ancestral
from manifold_fm.solvers import sample
from manifold_fm.spaces import Euclidean, ProductSpace
from manifold_fm.train import TrainConfig, Trainer


class MaskedToyMLP(ToyMLP):
    def forward(self, x, t, mask=None):
        assert mask is not None and mask.dtype == torch.bool  # the trainer passes the mask
        return super().forward(x, t)


def test_trainer_fits_ctmc_with_padding_mask():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    toy = PottsToy(vocab=4, length=4, seed=0)
    sp = CTMCSpace(4, 4, "mask", reduction="mean")
    x1 = toy.sample(4096, g)
    mask = torch.ones_like(x1, dtype=torch.bool)
    mask[::4, 3] = False  # a quarter of the rows have a padded last position
    cfg = TrainConfig(
        steps=400,
        batch_size=128,
        lr=2e-3,
        warmup_steps=10,
        ema_decay=0.0,
        device="cpu",
        seed=0,
        log_every=50,
    )
    model = MaskedToyMLP(4, 4)
    res = Trainer(sp, model, {"x1": x1, "mask": mask}, cfg).fit()
    assert res.steps == 400 and res.final_loss < res.losses[0]
    full = torch.ones(2000, 4, dtype=torch.bool)
    e = elbo(model, sp, toy.sample(2000, g), n_t=4, estimator="k", mask=full, generator=g)
    assert e.bits_per_token * 4 < 8.0 - 2.0  # far below the uniform model's 8 bits
    pad = torch.ones(50, 4, dtype=torch.bool)
    pad[:, 3] = False
    out = sample_ancestral(model, sp, 50, steps=8, mask=pad, generator=g).x
    assert bool((out[:, 3] == sp.mask_id).all()) and bool((out[:, :3] < 4).all())


def test_trainer_fits_a_euclidean_ctmc_product():
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(1)
    space = ProductSpace(Euclidean(2), CTMCSpace(3, 1, "mask"))
    cfg = TrainConfig(
        steps=500,
        batch_size=256,
        lr=3e-3,
        warmup_steps=10,
        ema_decay=0.0,
        device="cpu",
        seed=1,
        log_every=50,
    )
    model = JointNet()
    Trainer(space, model, data(8192, g), cfg).fit()
    with torch.no_grad():
        pts, lab = space.split(sample(model, space, 1000, steps=40, generator=g).x)
    agree = float((torch.cdist(pts, CENTRES).argmin(-1) == lab[:, 0]).double().mean())
    assert agree > 0.85, agree
