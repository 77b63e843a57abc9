"""Every method integrates the same ODE under a sampler policy (SE(3) rotation rate).

With ``RotationRate(c)`` the field is v'(x, t) = (c (1 - t) w(x, t), u(x, t)): the policy
depends on the stage time, so a method that applies it at the step's start time (or not at
all) converges to a different flow. Each fixed-step method must show its own order against
a fine RK4 reference, and dopri5 must agree with that reference.
"""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm import SE3
from manifold_fm.solvers import RotationRate, sample

RATE = 3.0


class _Field(torch.nn.Module):
    """A smooth x- and t-dependent field on SE(3)^N: outputs (n, N, 6)."""

    def forward(self, x, t, mask=None):
        r, tr = SE3.split(x)
        tt = t.reshape(-1, 1)
        w = torch.stack(
            [torch.sin(tr[..., 0]) + tt, torch.cos(tr[..., 1]), 0.5 * r[..., 0, 1] - tt], -1
        )
        return torch.cat([w, -0.3 * tr + torch.cos(3 * tt).unsqueeze(-1)], -1)


def _x0(space: SE3) -> torch.Tensor:
    return space.sample_prior(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _run(method: str, steps: int | None = None, **kw) -> torch.Tensor:
    space = SE3(n_frames=3, trans_scale=1.0)
    policy = [RotationRate(RATE)]
    return sample(_Field(), space, _x0(space), steps=steps, method=method, policies=policy, **kw).x


@pytest.fixture(scope="module")
def reference() -> torch.Tensor:
    return _run("rk4", 256)


def _err(space: SE3, x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(space.dist(x, ref).max())


@pytest.mark.parametrize(
    ("method", "order", "steps"),
    [("euler", 1, (32, 64)), ("midpoint", 2, (16, 32)), ("rk4", 4, (8, 16))],
)
def test_observed_order_matches_the_method(reference, method, order, steps):
    space = SE3(n_frames=3, trans_scale=1.0)
    coarse, fine = (_err(space, _run(method, n), reference) for n in steps)
    observed = math.log2(coarse / fine)
    assert abs(observed - order) < 0.35, (method, coarse, fine, observed)


def test_dopri5_integrates_the_policy_field(reference):
    space = SE3(n_frames=3, trans_scale=1.0)
    x = _run("dopri5", time_grid=[0.0, 1.0], atol=1e-10, rtol=1e-10)
    assert _err(space, x, reference) < 1e-7
    plain = sample(_Field(), space, _x0(space), method="dopri5", atol=1e-10, rtol=1e-10)
    assert _err(space, plain.x, reference) > 1e-2  # the policy changes the flow
