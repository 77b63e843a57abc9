"""
A new Space from scratch: the cylinder S^1 x R
==============================================

Everything in manifold-fm is written against the :class:`~manifold_fm.Space` contract, so
a new geometry only has to say what its points, tangent vectors and geodesics are. Here
the cylinder C = S^1 x R, embedded as points (cos a, sin a, z) in R^3 (dim 2):

* exp: rotate the circle part by the arc length of its tangent component and add the
  height, :math:`\\exp_x(v) = (\\cos r\\, p + \\tfrac{\\sin r}{r} v_p,\\ z + v_z)` with
  :math:`r = |v_p|`;
* log: the signed angle from p to q in (-pi, pi] times the circle's unit tangent, plus
  :math:`z_1 - z_0`;
* prior: uniform angle times a standard normal height; its log-density is taken w.r.t. the
  Riemannian area, :math:`-\\log 2\\pi - z^2/2 - \\tfrac12 \\log 2\\pi`.

:func:`~manifold_fm.testing.check_space` then checks the maths (exp(log) = id, the target
is the time derivative of x_t, the prior matches its log-density through a Stein identity,
...), and the shipped Trainer and sampler train and sample on it unchanged.

Run as ``python examples/custom_space.py``; the documentation build (``MFM_DOC_BUILD=1``)
runs it small.
"""

import math
import os

import matplotlib.pyplot as plt
import torch

from manifold_fm import ManifoldSpace
from manifold_fm.metrics import mmd2
from manifold_fm.nn import TangentModel, TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.testing import check_space
from manifold_fm.train import TrainConfig, Trainer

DOC_BUILD = os.environ.get("MFM_DOC_BUILD") == "1"
STEPS = 300 if DOC_BUILD else 3000


class Cylinder(ManifoldSpace):
    """S^1 x R as points (cos a, sin a, z) of R^3."""

    event_shape = torch.Size((3,))
    dim = 2

    def __init__(self, schedule=None):
        super().__init__(schedule)

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        a = 2 * math.pi * torch.rand(n, generator=generator, device=device, dtype=dtype)
        z = torch.randn(n, generator=generator, device=device, dtype=dtype)
        return torch.stack([a.cos(), a.sin(), z], -1)

    def log_prior(self, x):
        return -math.log(2 * math.pi) - 0.5 * x[..., 2] ** 2 - 0.5 * math.log(2 * math.pi)

    def expmap(self, x, v):
        p, vp = x[..., :2], v[..., :2]
        r = vp.norm(dim=-1, keepdim=True)
        q = torch.cos(r) * p + torch.sinc(r / math.pi) * vp  # sinc(r/pi) = sin(r)/r
        return torch.cat([q, x[..., 2:] + v[..., 2:]], -1)

    def logmap(self, x, y):
        p, q = x[..., :2], y[..., :2]
        perp = torch.stack([-p[..., 1], p[..., 0]], -1)  # p turned by +90 degrees
        angle = torch.atan2((q * perp).sum(-1), (q * p).sum(-1))
        return torch.cat([angle.unsqueeze(-1) * perp, y[..., 2:] - x[..., 2:]], -1)

    def proju(self, x, v):
        p, vp = x[..., :2], v[..., :2]
        vp = vp - (vp * p).sum(-1, keepdim=True) * p
        return torch.cat([vp, v[..., 2:]], -1)

    def projx(self, x):
        p = x[..., :2]
        return torch.cat([p / p.norm(dim=-1, keepdim=True), x[..., 2:]], -1)

    def inner(self, x, u, v):
        return (u * v).sum(-1)

    def dist(self, x, y):
        return self.logmap(x, y).norm(dim=-1)

    def point_error(self, x):
        return (x[..., :2].norm(dim=-1) - 1).abs()


space = Cylinder()

# %%
# The conformance suite
# ---------------------
# ``check_space`` raises :class:`~manifold_fm.testing.SpaceCheckError` naming the failing
# property; the report lists each property with its measured error.

report = check_space(space, dtype=torch.float64)
print(report)

# %%
# Train and sample
# ----------------
# The data: a band winding twice around the cylinder, z = sin(2a) + 0.1 noise.

torch.manual_seed(0)
gen = torch.Generator().manual_seed(0)


def wavy_band(n):
    a = 2 * math.pi * torch.rand(n, generator=gen)
    z = torch.sin(2 * a) + 0.1 * torch.randn(n, generator=gen)
    return torch.stack([a.cos(), a.sin(), z], -1)


data = wavy_band(10_000)
model = TangentModel(space, TimeMLP.for_space(space, hidden=128, depth=3))
cfg = TrainConfig(steps=STEPS, batch_size=256, lr=2e-3, warmup_steps=50, progress=False)
trainer = Trainer(space, model, data, cfg)
print(f"final loss {trainer.fit().final_loss:.4f}")

x = sample(trainer.ema_model, space, 1000, steps=50, method="rk4", generator=gen).x
test = wavy_band(1000)
floor = mmd2(space, wavy_band(1000), test)
print(f"MMD^2 samples vs data {mmd2(space, x, test):.4f}; fresh data (noise floor) {floor:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, pts, name in zip(axes, (test, x), ("data", "samples")):
    ax.scatter(torch.atan2(pts[:, 1], pts[:, 0]), pts[:, 2], s=2, alpha=0.5)
    ax.set(title=f"{name} (cylinder unrolled)", xlabel="angle a", xlim=(-math.pi, math.pi))
axes[0].set_ylabel("height z")
fig.tight_layout()
plt.show()
