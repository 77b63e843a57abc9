"""
A flow on the sphere S^2
========================

Flow matching on :class:`~manifold_fm.Sphere`: the prior is uniform on S^2, the training
pair is the geodesic interpolant

.. math::

    x_t = \\exp_{x_0}(\\kappa_t \\log_{x_0} x_1), \\qquad
    u_t = \\frac{\\dot\\kappa_t}{1 - \\kappa_t} \\log_{x_t} x_1,

and every sampling step is an exponential map, so samples stay on the sphere. We train on
the four-component von Mises-Fisher mixture of the synthetic benchmark, draw the sample
paths on a 3-D globe and animate them.

Run as ``python examples/sphere_flow.py``; the documentation build (``MFM_DOC_BUILD=1``)
runs it small.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib import animation

from manifold_fm import Sphere
from manifold_fm.data.synthetic import default_s2_mixture
from manifold_fm.metrics import mmd2
from manifold_fm.nn import TangentModel, TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer

DOC_BUILD = os.environ.get("MFM_DOC_BUILD") == "1"
STEPS = 300 if DOC_BUILD else 3000
OUT = Path(os.environ.get("MFM_EXAMPLE_OUT", "example_out"))  # the GIF goes here

torch.manual_seed(0)
gen = torch.Generator().manual_seed(0)

# %%
# Training
# --------
# :class:`~manifold_fm.nn.TangentModel` projects the network's output onto the tangent
# plane at x, so the model is a tangent vector field by construction.

space = Sphere(2)
target = default_s2_mixture()
data = target.sample(10_000, generator=gen).float()  # (10000, 3) unit vectors
model = TangentModel(space, TimeMLP.for_space(space, hidden=128, depth=3))
cfg = TrainConfig(steps=STEPS, batch_size=256, lr=2e-3, warmup_steps=50, progress=False)
fit = Trainer(space, model, data, cfg)
result = fit.fit()
ema = fit.ema_model.eval()
print(f"trained {result.steps} steps, final loss {result.final_loss:.4f}")

# %%
# Sample paths on a globe
# -----------------------
# ``return_trajectory=True`` keeps every state; each curve is one sample's path from the
# uniform prior (grey) to its end point (colour).

res = sample(ema, space, 400, steps=40, method="midpoint", return_trajectory=True, generator=gen)
traj = res.trajectory  # (41, 400, 3)
test = target.sample(400, generator=gen).float()
print(f"MMD^2 samples vs data {mmd2(space, res.x, test):.4f}")

u, v = torch.meshgrid(
    torch.linspace(0, 2 * torch.pi, 40), torch.linspace(0, torch.pi, 20), indexing="ij"
)
globe = (u.cos() * v.sin(), u.sin() * v.sin(), v.cos())

fig = plt.figure(figsize=(6, 6))
ax = fig.add_subplot(projection="3d")
ax.plot_wireframe(*globe, color="lightgrey", linewidth=0.4)
for i in range(60):
    ax.plot(*traj[:, i].T, color="tab:blue", linewidth=0.8, alpha=0.7)
ax.scatter(*traj[0, :60].T, color="grey", s=6)
ax.scatter(*traj[-1, :60].T, color="tab:red", s=8)
ax.set_box_aspect((1, 1, 1))
ax.set_axis_off()
ax.set_title("geodesic-flow sample paths on S^2")

# %%
# Animation
# ---------
# The 400 samples flowing from the uniform prior (t = 0) to the mixture (t = 1), also
# written as ``example_out/sphere_flow.gif``.

fig = plt.figure(figsize=(5, 5))
ax = fig.add_subplot(projection="3d")
ax.plot_wireframe(*globe, color="lightgrey", linewidth=0.3)
pts = ax.scatter(*traj[0].T, s=4, color="tab:blue")
ax.set_box_aspect((1, 1, 1))
ax.set_axis_off()


def draw(k):
    pts._offsets3d = tuple(traj[k].T.numpy())
    ax.set_title(f"t = {float(res.times[k]):.2f}")
    return (pts,)


anim = animation.FuncAnimation(fig, draw, frames=traj.shape[0], interval=100)
OUT.mkdir(parents=True, exist_ok=True)
anim.save(OUT / "sphere_flow.gif", writer=animation.PillowWriter(fps=10))
plt.show()
