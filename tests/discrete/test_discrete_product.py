"""Co-generation: ProductSpace(Euclidean(2), CTMCSpace(3 labels, length 1)) trains and samples."""

from __future__ import annotations

import torch
from torch import nn

from discrete_fm import CTMCSpace
from manifold_fm.solvers import sample
from manifold_fm.spaces import Euclidean, ProductSpace

CENTRES = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]])


class JointNet(nn.Module):
    """[x, onehot(token), t] -> [velocity (2), label logits (3)]."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 + 4 + 1, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 5)
        )

    def forward(self, x, t):
        tok = nn.functional.one_hot(x[:, 2].round().long(), 4).to(x.dtype)
        return self.net(torch.cat([x[:, :2], tok, t[:, None].to(x.dtype)], -1))


def data(n, g):
    lab = torch.randint(0, 3, (n,), generator=g)
    pts = CENTRES[lab] + 0.3 * torch.randn(n, 2, generator=g)
    return torch.cat([pts, lab[:, None].float()], -1)


def test_product_of_euclidean_and_ctmc_trains_and_samples():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ctmc = CTMCSpace(3, 1, "mask")
    space = ProductSpace(Euclidean(2), ctmc)
    assert tuple(space.event_shape) == (3,) and tuple(space.output_shape) == (5,)
    model = JointNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(600):
        x1 = data(256, g)
        x0 = space.sample_prior(256, generator=g)
        s = space.path(x0, x1, torch.rand(256, generator=g))
        loss = space.loss(model(s.x_t, s.t), s).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = sample(model, space, 2000, steps=50, generator=g).x
    pts, lab = space.split(out)
    ctmc.validate(lab)  # labels came back as clean long ids
    assert lab.dtype == torch.long
    nearest = torch.cdist(pts, CENTRES).argmin(-1)
    agree = float((nearest == lab[:, 0]).double().mean())
    assert agree > 0.9, agree  # the label matches the cluster it was generated with
    freq = torch.bincount(lab[:, 0], minlength=3).double() / 2000
    assert bool(((freq - 1 / 3).abs() < 0.08).all()), freq
