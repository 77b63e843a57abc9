"""Sampling with policies on all but the last step: FrameFlow's final jump to x1_hat.

FrameFlow samples rotations with the rotation-rate schedule
(:class:`~manifold_fm.solvers.RotationRate`, exp rate c = 10) and ends with a jump to the
model's clean-point prediction. The jump needs nothing protein-specific: the last Euler
step, from t = 1 - h to 1, taken with the model's own field (no policy), is

    x <- exp_x(h u),  u = r(t) log_x(x1_hat),  r(t) = kappa'(t) / (1 - kappa(t)),

and for the linear schedule h r(1 - h) = 1, so it lands exactly on x1_hat
(SE(3): R Exp(Log(R^T R1_hat)) = R1_hat, t + (t1_hat - t) = t1_hat). Under the rotation-rate
policy the same step would move rotations only a fraction c h of the way. On a product
(frames x tokens) every part takes its own last step (the tokens' CTMC step to t = 1
unmasks every real position).

:func:`sample_with_final_jump` = :func:`~manifold_fm.solvers.sample` on the grid up to
1 - h with the policies, then one Euler step without them; both calls go through the one
sampling loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.solvers.field import FieldPolicy
from manifold_fm.solvers.fixed import make_time_grid
from manifold_fm.solvers.loop import SampleResult, sample
from manifold_fm.spaces.base import Space

__all__ = ["sample_with_final_jump"]


def sample_with_final_jump(
    model: nn.Module | Callable[..., Tensor],
    space: Space,
    x0_or_n: Tensor | int,
    *,
    steps: int = 100,
    policies: Sequence[FieldPolicy] = (),
    final_jump: bool = True,
    mask: Tensor | None = None,
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> SampleResult:
    """Euler sampling with ``policies``; the last step without them when ``final_jump``.

    Shapes as in :func:`~manifold_fm.solvers.sample`; ``steps >= 2`` when jumping. The
    returned ``nfe`` counts both parts; ``times`` is the whole grid.
    """
    if not final_jump:
        return sample(
            model,
            space,
            x0_or_n,
            steps=steps,
            policies=policies,
            mask=mask,
            cond=cond,
            generator=generator,
            device=device,
            dtype=dtype,
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"sample_with_final_jump: steps must be an int >= 2, got {steps!r}")
    grid = make_time_grid(steps, None, dtype=torch.float64)
    head = sample(
        model,
        space,
        x0_or_n,
        time_grid=grid[:-1],
        policies=policies,
        mask=mask,
        cond=cond,
        generator=generator,
        device=device,
        dtype=dtype,
    )
    last = sample(
        model, space, head.x, time_grid=grid[-2:], mask=mask, cond=cond, generator=generator
    )
    return SampleResult(x=last.x, times=grid, trajectory=None, nfe=head.nfe + last.nfe)
