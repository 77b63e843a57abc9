"""
Gaussian to an 11-mode mixture in 2-D
=====================================

The first example of flow matching: a standard Gaussian N(0, I) on R^2 is carried to a
mixture of 11 Gaussians by the linear (conditional-OT) interpolant

.. math::

    x_t = (1 - t)\\, x_0 + t\\, x_1, \\qquad u_t = x_1 - x_0,

with the model trained by mean-squared error on ``x1 - x0`` (the loss of
:class:`~manifold_fm.Euclidean`). We then

* look at samples at several points of training,
* compare Euler, midpoint and RK4 at the same number of model evaluations (NFE),
* animate the samples flowing from t = 0 to t = 1 (a GIF, written with pillow),
* draw the learned vector field as a quiver plot,
* and measure how well the modes are covered: each mode's share of the samples (ideal
  1/11) and MMD^2 to the mixture against the noise floor of fresh mixture draws.

Run as ``python examples/gaussian_mixture_2d.py`` for the full-size run; the documentation
build sets ``MFM_DOC_BUILD=1`` and runs it small.
"""

import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib import animation

from manifold_fm import Euclidean
from manifold_fm.data.synthetic import GaussianMixture
from manifold_fm.metrics import mmd2
from manifold_fm.nn import TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer

DOC_BUILD = os.environ.get("MFM_DOC_BUILD") == "1"
STEPS = 300 if DOC_BUILD else 12000  # optimiser steps
HIDDEN = 128 if DOC_BUILD else 256  # width of the MLP
N_EVAL = 600 if DOC_BUILD else 4000  # samples scored and plotted
OUT = Path(os.environ.get("MFM_EXAMPLE_OUT", "example_out"))

torch.manual_seed(0)
gen = torch.Generator().manual_seed(0)

# %%
# The target: 11 Gaussians on a circle of radius 4
# ------------------------------------------------
# Equal weights, standard deviation 0.25. The mixture object gives exact draws and each
# component's log-density, which assigns a sample to its nearest mode.

K = 11
angles = 2 * math.pi * torch.arange(K, dtype=torch.float64) / K
mus = 4.0 * torch.stack([angles.cos(), angles.sin()], -1)
target = GaussianMixture(mus, torch.full((K,), 0.25, dtype=torch.float64))
data = target.sample(20_000, generator=gen).float()  # (20000, 2)

space = Euclidean(2)  # linear interpolant, N(0, I) prior, MSE on x1 - x0
model = TimeMLP.for_space(space, hidden=HIDDEN, depth=3)

# %%
# Training, with snapshots
# ------------------------
# ``Trainer.fit(until=k)`` stops at step k with the learning-rate schedule of the whole
# run, so calling it with growing ``until`` gives snapshots of one run.

cfg = TrainConfig(
    steps=STEPS, batch_size=512, lr=2e-3, warmup_steps=100, ema_decay=0.995, progress=False
)
trainer = Trainer(space, model, data, cfg)
snap_steps = [STEPS // 10, STEPS // 4, STEPS // 2, STEPS]
fig, axes = plt.subplots(1, len(snap_steps), figsize=(3.2 * len(snap_steps), 3.2))
for ax, k in zip(axes, snap_steps):
    trainer.fit(until=k)
    x = sample(trainer.ema_model, space, N_EVAL, steps=50, method="rk4", generator=gen).x
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5)
    ax.set(title=f"step {k}", xlim=(-6, 6), ylim=(-6, 6), aspect="equal")
fig.suptitle("samples (RK4, 50 steps) during training")
fig.tight_layout()
ema = trainer.ema_model.eval()
print(f"trained {trainer.step} steps, final loss {trainer.losses[-1]:.4f}")

# %%
# Euler, midpoint and RK4 at the same NFE
# ---------------------------------------
# An RK4 step evaluates the model 4 times and a midpoint step twice, so at 8 evaluations
# Euler takes 8 steps, midpoint 4 and RK4 2.

NFE = 8
test = target.sample(N_EVAL, generator=gen).float()
fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.2))
for ax, (method, per_step) in zip(axes, [("euler", 1), ("midpoint", 2), ("rk4", 4)]):
    res = sample(ema, space, N_EVAL, steps=NFE // per_step, method=method, generator=gen)
    score = mmd2(space, res.x, test, bandwidth=0.5)
    ax.scatter(res.x[:, 0], res.x[:, 1], s=2, alpha=0.5)
    ax.set(title=f"{method}: NFE {res.nfe}, MMD² {score:.4f}", xlim=(-6, 6), ylim=(-6, 6))
    ax.set_aspect("equal")
    print(f"{method:8s} {NFE // per_step} steps, nfe {res.nfe}, MMD^2 {score:.5f}")
fig.tight_layout()

# %%
# Mode coverage and MMD^2 against the noise floor
# -----------------------------------------------
# Each sample goes to the mode of highest component density; a perfect sampler gives each
# mode 1/11 of the points. The noise floor is the largest MMD^2 between the test set and
# five fresh draws of the true mixture of the same size.

final = sample(ema, space, N_EVAL, steps=100, method="rk4", generator=gen).x
owner = target.component_log_prob(final.double()).argmax(-1)
shares = torch.bincount(owner, minlength=K).double() / N_EVAL
for k in range(K):
    print(f"mode {k:2d}: share {shares[k]:.4f} (ideal {1 / K:.4f})")
worst = float((shares * K - 1).abs().max())
print(f"largest relative deviation from 1/11: {100 * worst:.1f}% (bound: 30%)")
score = mmd2(space, final, test, bandwidth=0.5)
floor = max(
    mmd2(space, target.sample(N_EVAL, generator=gen).float(), test, bandwidth=0.5) for _ in range(5)
)
print(f"MMD^2 samples vs mixture {score:.5f}; noise floor {floor:.5f}")

# %%
# The flow as an animation
# ------------------------
# ``return_trajectory=True`` keeps the state at every grid time; the frames show the
# points moving from the Gaussian (t = 0) to the mixture (t = 1). The GIF is written to
# ``example_out/`` (``MFM_EXAMPLE_OUT`` moves it).

n_frames = 25 if DOC_BUILD else 60
traj = sample(
    ema, space, 1500, steps=n_frames - 1, method="rk4", return_trajectory=True, generator=gen
)
path = traj.trajectory  # (n_frames, 1500, 2)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
dots = ax.scatter(path[0, :, 0], path[0, :, 1], s=3, alpha=0.6)
ax.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal")
title = ax.set_title("t = 0.00")


def draw(i):
    dots.set_offsets(path[i].numpy())
    title.set_text(f"t = {float(traj.times[i]):.2f}")
    return dots, title


anim = animation.FuncAnimation(fig, draw, frames=len(path), interval=80, blit=False)
OUT.mkdir(parents=True, exist_ok=True)
anim.save(OUT / "gaussian_mixture_2d.gif", writer=animation.PillowWriter(fps=12))

# %%
# The learned vector field
# ------------------------
# The model's output at a point is the velocity u(x, t); early on it spreads the Gaussian
# outward, late it pulls points into the nearest mode.

grid = torch.linspace(-5.5, 5.5, 21)
gx, gy = torch.meshgrid(grid, grid, indexing="xy")
pts = torch.stack([gx.flatten(), gy.flatten()], -1)
fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.4))
with torch.no_grad():
    for ax, t in zip(axes, [0.1, 0.5, 0.9]):
        v = ema(pts, torch.full((pts.shape[0],), t))
        ax.quiver(pts[:, 0], pts[:, 1], v[:, 0], v[:, 1], v.norm(dim=-1), cmap="viridis")
        ax.scatter(mus[:, 0], mus[:, 1], c="red", s=10)
        ax.set(title=f"u(x, t = {t})", xlim=(-6, 6), ylim=(-6, 6), aspect="equal")
fig.tight_layout()
plt.show()
