"""
A flow on SO(3)
===============

Rotations as data: :class:`~manifold_fm.SO3` holds 3x3 rotation matrices, the prior is the
Haar (uniform) measure, the model outputs body-frame rotation vectors w in R^3 (the
tangent vector R hat(w)), and a sampling step is R exp(dt hat(w)). We train on the
three-component IGSO3 mixture of the synthetic benchmark and show each rotation R by the
point R e_3 it sends the z axis to (the "sphere of axes"), coloured by the rotation's angle
about that axis.

Run as ``python examples/so3_rotations.py``; the documentation build (``MFM_DOC_BUILD=1``)
runs it small.
"""

import os

import matplotlib.pyplot as plt
import torch

from manifold_fm import SO3
from manifold_fm.data.synthetic import default_so3_mixture
from manifold_fm.metrics import mmd2
from manifold_fm.nn import TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer

DOC_BUILD = os.environ.get("MFM_DOC_BUILD") == "1"
STEPS = 300 if DOC_BUILD else 3000
N = 500 if DOC_BUILD else 2000

torch.manual_seed(0)
gen = torch.Generator().manual_seed(0)

space = SO3()
target = default_so3_mixture()
data = target.sample(10_000, generator=gen).float()  # (10000, 3, 3)
model = TimeMLP.for_space(space, hidden=128, depth=3)  # (n, 3, 3) -> (n, 3)
cfg = TrainConfig(steps=STEPS, batch_size=256, lr=2e-3, warmup_steps=50, progress=False)
trainer = Trainer(space, model, data, cfg)
print(f"final loss {trainer.fit().final_loss:.4f}")

# %%
# Samples against data
# --------------------
# Each rotation is drawn as the image of the z axis on the unit sphere (longitude and
# latitude), coloured by the roll of the rotated x axis about it.

x = sample(trainer.ema_model, space, N, steps=50, method="rk4", generator=gen).x
space.validate(x)  # still rotation matrices
test = target.sample(N, generator=gen).float()
print(f"MMD^2 samples vs data {mmd2(space, x, test):.4f}")
print(f"MMD^2 prior vs data   {mmd2(space, space.sample_prior(N, generator=gen), test):.4f}")


def axes_view(r):
    z = r[:, :, 2]  # R e_3
    lon, lat = torch.atan2(z[:, 1], z[:, 0]), torch.asin(z[:, 2].clamp(-1, 1))
    roll = torch.atan2(r[:, 1, 0], r[:, 0, 0])
    return lon, lat, roll


fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, r, name in zip(axes, (test, x), ("data (IGSO3 mixture)", "samples")):
    lon, lat, roll = axes_view(r)
    ax.scatter(lon, lat, c=roll, cmap="twilight", s=3)
    ax.set(title=name, xlabel="longitude of R e_3", xlim=(-3.2, 3.2), ylim=(-1.6, 1.6))
axes[0].set_ylabel("latitude of R e_3")
fig.tight_layout()
plt.show()
