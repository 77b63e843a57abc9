"""The ancestral sampler for CTMC spaces (exact in time under a frozen posterior).

Why a separate sampler: :func:`manifold_fm.solvers.sample` with ``method="euler"`` drives any
Space through ``space.step`` (tau-leaping for :class:`CTMCSpace`). The ancestral sampler
instead moves from t to s by redrawing each still-corrupted position with probability
(kappa_s - kappa_t) / (1 - kappa_t) from p(x1 | x_t): for the mask source this has no
per-token time-discretization error (only the factorisation error of unmasking several
positions in one step), and its last step is exact. It returns the same
:class:`manifold_fm.solvers.SampleResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from discrete_fm.space import CTMCSpace
from manifold_fm.solvers import SampleResult, VelocityField, make_time_grid

__all__ = ["sample_ancestral"]


@torch.no_grad()
def sample_ancestral(
    model: nn.Module | Callable[..., Tensor],
    space: CTMCSpace,
    x0_or_n: Tensor | int,
    *,
    steps: int | None = 100,
    time_grid: Tensor | list[float] | None = None,
    cond: dict[str, Any] | None = None,
    guidance_scale: float | None = None,
    mask: Tensor | None = None,
    return_trajectory: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> SampleResult:
    """Sample sequences (n, L) with the ancestral (frozen-posterior) update.

    Args mirror :func:`manifold_fm.solvers.sample`: ``model(x_t, t, **cond)`` returns logits
    (n, L, V); ``steps`` equal steps on [0, 1] unless ``time_grid`` is given (it must end at
    1 for complete samples); ``mask`` (n, L) keeps padded positions at their initial value;
    ``generator`` is the only source of randomness.

    Returns:
        SampleResult with x (n, L) long, the grid, the trajectory (k, n, L) or None, and nfe.
    """
    if not isinstance(space, CTMCSpace):
        raise TypeError(f"sample_ancestral needs a CTMCSpace, got {type(space).__name__}")
    if isinstance(x0_or_n, int):
        x = space.sample_prior(x0_or_n, generator=generator, device=device)
    else:
        x = x0_or_n.to(device=device or x0_or_n.device)
    grid = make_time_grid(steps, time_grid, device=x.device, dtype=torch.float64)
    field = VelocityField(model, space, cond, guidance_scale, mask)
    traj = [x] if return_trajectory else None
    for i in range(grid.numel() - 1):
        t, h = grid[i], grid[i + 1] - grid[i]
        x = space.ancestral_step(x, field(x, t), t, h, mask=mask, generator=generator)
        if traj is not None:
            traj.append(x)
    trajectory = torch.stack(traj) if traj is not None else None
    return SampleResult(x=x, times=grid, trajectory=trajectory, nfe=field.nfe)
