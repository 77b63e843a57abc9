"""A small model trained on the enumerable toy gets close to the exact joint and entropy."""

from __future__ import annotations

import pytest
import torch
from discrete_toy import PottsToy
from torch import nn

from discrete_fm import CTMCSpace, elbo, sample_ancestral


class ToyMLP(nn.Module):
    def __init__(self, V: int, L: int) -> None:
        super().__init__()
        self.V, self.L = V, L
        self.net = nn.Sequential(
            nn.Linear(L * (V + 1), 256),
            nn.SiLU(),
            nn.Linear(256, 256),
            nn.SiLU(),
            nn.Linear(256, L * V),
        )

    def forward(self, x, t):
        h = nn.functional.one_hot(x, self.V + 1).float().flatten(1)
        return self.net(h).view(-1, self.L, self.V)


@pytest.mark.slow
def test_trained_mask_model_matches_toy():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    toy = PottsToy(vocab=4, length=4, strength=1.5, seed=0)
    sp = CTMCSpace(4, 4, "mask", reduction="mean")
    model = ToyMLP(4, 4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(1500):
        x1 = toy.sample(256, g)
        s = sp.path(sp.sample_prior(256), x1, torch.rand(256, generator=g), generator=g)
        loss = sp.loss(model(s.x_t, s.t), s).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        res = elbo(model, sp, toy.sample(3000, g), n_t=8, estimator="k", generator=g)
        x = sample_ancestral(model, sp, 4000, steps=24, generator=g).x
    bits = res.bits_per_token * 4
    assert bits >= toy.entropy_bits - 4 * res.stderr * 4  # still an upper bound
    assert bits < toy.entropy_bits + 0.15
    assert toy.tv(x) < 0.1
