"""Fixed-step geometric integrators and the time grid: one tiny function per method.

Every update goes through the space's own ``step`` (the exponential map plus ``retract``
for manifolds), and the stage velocities of midpoint / RK4 are carried back to the step's
base point with ``space.log_differential`` (d log_x, Runge-Kutta-Munthe-Kaas) before they
are combined, so states never leave the manifold and RK4 keeps its fourth order on curved
spaces. With the field v (model, guidance and policies, :mod:`manifold_fm.solvers.field`)
evaluated at the stage times:

* euler:    x' = exp_x(h v(x, t))
* midpoint: k2 = T(v(exp_x(h/2 k1), t + h/2));  x' = exp_x(h k2)
* rk4:      k2 = T(v(exp_x(h/2 k1), t + h/2)), k3 = T(v(exp_x(h/2 k2), t + h/2)),
            k4 = T(v(exp_x(h k3), t + h));  x' = exp_x(h (k1 + 2 k2 + 2 k3 + k4) / 6)

A step function has the signature ``(space, field, x, t, h, mask, generator) -> x'``;
``euler`` works on any Space, midpoint and rk4 need a ManifoldSpace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["FIXED_STEP_METHODS", "MANIFOLD_ONLY", "StepFn", "make_time_grid", "space_step"]

#: ``(space, field, x, t, h, mask, generator) -> x'``
StepFn = Callable[..., Tensor]


def _euler(space, field, x, t, h, mask, generator):
    return space.step(x, field(x, t), t, h, mask=mask, generator=generator)


def _midpoint(space, field, x, t, h, mask, generator):
    k1 = field(x, t)
    xm = space.step(x, k1, t, h / 2, mask=mask)
    k2 = space.log_differential(x, xm, field(xm, t + h / 2))
    return space.step(x, k2, t, h, mask=mask)


def _rk4(space, field, x, t, h, mask, generator):
    k1 = field(x, t)
    x2 = space.step(x, k1, t, h / 2, mask=mask)
    k2 = space.log_differential(x, x2, field(x2, t + h / 2))
    x3 = space.step(x, k2, t, h / 2, mask=mask)
    k3 = space.log_differential(x, x3, field(x3, t + h / 2))
    x4 = space.step(x, k3, t, h, mask=mask)
    k4 = space.log_differential(x, x4, field(x4, t + h))
    return space.step(x, (k1 + 2 * k2 + 2 * k3 + k4) / 6, t, h, mask=mask)


#: the geometric fixed-step table: name -> one step
FIXED_STEP_METHODS: dict[str, StepFn] = {"euler": _euler, "midpoint": _midpoint, "rk4": _rk4}
#: methods that need a ManifoldSpace (``log_differential``)
MANIFOLD_ONLY = ("midpoint", "rk4")


def space_step(fn: Callable[..., Tensor]) -> StepFn:
    """A step of the table from a space-supplied step ``fn(space, x, output, t, dt, ...)``.

    The field is evaluated once at (x, t), as in Euler; ``fn`` (for example the CTMC
    ancestral jump) decides how the state moves.
    """

    def one_step(space: Any, field: Any, x: Tensor, t: Tensor, h: Tensor, mask, generator):
        return fn(space, x, field(x, t), t, h, mask=mask, generator=generator)

    return one_step


def make_time_grid(
    steps: int | None = None,
    time_grid: Tensor | list[float] | None = None,
    *,
    t0: float = 0.0,
    t1: float = 1.0,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The time grid: ``time_grid`` if given, else ``steps + 1`` equal steps from t0 to t1.

    Every time must lie in [0, 1] and the grid must be strictly monotone (increasing for
    sampling, decreasing for likelihood). A grid starting at 0.5 starts at 0.5. Returns
    shape ``(k,)``.
    """
    if time_grid is not None:
        grid = torch.as_tensor(time_grid, device=device, dtype=dtype).flatten()
    else:
        if steps is None or int(steps) < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        grid = torch.linspace(t0, t1, int(steps) + 1, device=device, dtype=dtype)
    if grid.numel() < 2:
        raise ValueError(f"time grid needs at least 2 times, got {grid.tolist()}")
    if not bool(((grid >= 0) & (grid <= 1)).all()):
        raise ValueError(
            f"time grid must lie in [0, 1], got min {grid.min():.4g} max {grid.max():.4g}"
        )
    d = grid.diff()
    if not (bool((d > 0).all()) or bool((d < 0).all())):
        raise ValueError("time grid must be strictly increasing or strictly decreasing")
    return grid
