"""SE(3)^N x tokens with padding masks through the Trainer and the sampler.

A packed product mask (frames' mask, then tokens' mask) rides in the data dict like any
other mask; training must run, and sampling with masks must leave every padded frame and
token exactly where it started.
"""

from __future__ import annotations

import torch
from torch import nn

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, ProductSpace
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer

N, L, V = 3, 3, 4


class JointNet(nn.Module):
    """[x_t, t, packed mask] -> [frame velocities (N x 6), token logits (L x V)]."""

    def __init__(self, space) -> None:
        super().__init__()
        d_in = space.event_shape[0] + 1 + N + L
        self.net = nn.Sequential(nn.Linear(d_in, 64), nn.SiLU(), nn.Linear(64, N * 6 + L * V))

    def forward(self, x, t, mask):
        feats = torch.cat([x, t[:, None].to(x.dtype), mask.to(x.dtype)], -1)
        return self.net(feats)


def data(space, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    se3 = space.spaces[0]
    r = SO3().random_uniform(n * N, generator=g).reshape(n, N, 3, 3)
    frames = se3.join(r, torch.randn(n, N, 3, generator=g))
    tokens = torch.randint(0, V, (n, L), generator=g)
    m_frames = torch.arange(N) < torch.randint(1, N + 1, (n, 1), generator=g)
    m_tokens = torch.arange(L) < torch.randint(1, L + 1, (n, 1), generator=g)
    return {"x1": space.join([frames, tokens], 1), "mask": torch.cat([m_frames, m_tokens], -1)}


def test_frames_and_tokens_train_and_sample_with_masks():
    space = ProductSpace(SE3(N, trans_scale=1.0), CTMCSpace(V, L, "mask"))
    g = torch.Generator().manual_seed(0)
    model = JointNet(space)
    cfg = TrainConfig(steps=8, batch_size=16, warmup_steps=1, device="cpu", progress=False)
    fit = Trainer(space, model, data(space, 64, g), cfg).fit()
    assert fit.steps == 8 and all(torch.isfinite(torch.tensor(fit.losses)))

    mask = data(space, 10, g)["mask"]
    m_frames, m_tokens = mask[:, :N], mask[:, N:]
    x0 = space.sample_prior(10, generator=g)
    with torch.no_grad():
        x = sample(model, space, x0, steps=5, mask=mask, generator=g).x
    (f0, tok0), (f1, tok1) = space.split(x0), space.split(x)
    assert torch.equal(f1[~m_frames], f0[~m_frames])  # padded frames never moved
    assert torch.equal(tok1[~m_tokens], tok0[~m_tokens])  # padded tokens stay masked
    assert bool((tok1[m_tokens] < V).all())  # every real token was generated
    assert not torch.equal(f1[m_frames], f0[m_frames])  # real frames did move
