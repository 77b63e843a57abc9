"""sample_with_final_jump: under the rotation-rate policy, the last step lands on x1_hat."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from manifold_fm import SE3
from manifold_fm.nn import X1Prediction
from manifold_fm.solvers import RotationRate, sample, sample_with_final_jump

N = 6


class Constant(nn.Module):
    """A 'network' whose clean-point estimate is always the same frames."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target)

    def forward(self, x, t, mask=None):
        return self.target.expand_as(x)


def test_last_step_jumps_to_the_prediction():
    space = SE3(N)
    g = torch.Generator().manual_seed(0)
    target = space.sample_prior(1, generator=g, dtype=torch.float64)
    model = X1Prediction(Constant(target), space, project=False)
    x0 = space.sample_prior(3, generator=g, dtype=torch.float64)
    policy = [RotationRate(2.0)]  # slow enough that 20 plain steps stay visibly short
    jumped = sample_with_final_jump(model, space, x0, steps=20, policies=policy)
    assert (jumped.x - target).abs().max() < 1e-9 and jumped.nfe == 20
    plain = sample(model, space, x0, steps=20, policies=policy)
    assert (plain.x[..., :3] - target[..., :3]).abs().max() > 1e-3  # rotations fall short
    off = sample_with_final_jump(model, space, x0, steps=20, policies=policy, final_jump=False)
    assert torch.equal(off.x, plain.x)


def test_needs_two_steps():
    space = SE3(N)
    model = X1Prediction(Constant(space.sample_prior(1)), space, project=False)
    with pytest.raises(ValueError, match="steps must be an int >= 2"):
        sample_with_final_jump(model, space, 2, steps=1)
