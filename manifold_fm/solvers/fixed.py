"""Samplers: integrate a learned field from the prior to the data on any Space.

Fixed-step solvers in geometric form (a tiny table, one function each): every update goes
through the space's own ``step`` (the exponential map for manifolds), and the stage
velocities of midpoint / RK4 are carried back to the step's base point with
``space.transport`` before they are combined, so states never leave the manifold:

* euler:    x' = exp_x(h k1)
* midpoint: k2 = T(v(exp_x(h/2 k1), t + h/2));  x' = exp_x(h k2)
* rk4:      k2 = T(v(exp_x(h/2 k1))), k3 = T(v(exp_x(h/2 k2))), k4 = T(v(exp_x(h k3)));
            x' = exp_x(h (k1 + 2 k2 + 2 k3 + k4) / 6)

``dopri5`` (and any other torchdiffeq method) integrates the ambient ODE
dx/dt = A(P(x), v(P(x), t)) with P the manifold projection and A the ambient velocity map,
and projects the result back onto the manifold.

Non-manifold spaces (the discrete CTMC) support ``euler`` only, which calls ``space.step``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import with_dropped
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = ["FIXED_STEP_METHODS", "SampleResult", "VelocityField", "make_time_grid", "sample"]


@dataclass
class SampleResult:
    """What :func:`sample` returns.

    Attributes:
        x: final states, shape ``(n, *event_shape)``.
        times: the time grid used, shape ``(k,)``.
        trajectory: states at every grid time, shape ``(k, n, *event_shape)``, or None when
            ``return_trajectory=False``.
        nfe: number of model evaluations (a guided evaluation counts as two).
    """

    x: Tensor
    times: Tensor
    trajectory: Tensor | None
    nfe: int


class VelocityField:
    """The model as a field on the space: ``field(x, t) -> output`` with guidance.

    Calls ``model(x, t_batch, **cond)``; with ``guidance_scale`` w it returns
    ``space.guide(cond_out, uncond_out, w)`` where the unconditional output comes from
    ``model(x, t, **cond, cond_drop=True)``.
    """

    def __init__(
        self,
        model: nn.Module | Callable[..., Tensor],
        space: Space,
        cond: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        mask: Tensor | None = None,
    ) -> None:
        self.model, self.space = model, space
        self.cond = dict(cond or {})
        if mask is not None:
            self.cond["mask"] = mask
        self.guidance_scale = guidance_scale
        if guidance_scale is not None and not cond:
            raise ValueError("guidance_scale needs a condition: pass cond={...}")
        self._uncond: dict[str, Any] | None = None
        self.nfe = 0

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        n = x.shape[0]
        tdtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()  # token ids
        tb = torch.as_tensor(t, device=x.device, dtype=tdtype).expand(n)
        out = self.model(x, tb, **self.cond)
        self.nfe += 1
        if self.guidance_scale is None:
            return out
        if self._uncond is None:
            self._uncond = with_dropped(self.cond, torch.ones(n, dtype=torch.bool, device=x.device))
        self.nfe += 1
        return self.space.guide(out, self.model(x, tb, **self._uncond), self.guidance_scale)


def _euler(space, field, x, t, h, mask, generator):
    return space.step(x, field(x, t), t, h, mask=mask, generator=generator)


def _midpoint(space, field, x, t, h, mask, generator):
    k1 = field(x, t)
    xm = space.step(x, k1, t, h / 2, mask=mask)
    k2 = space.transport(x, xm, field(xm, t + h / 2))
    return space.step(x, k2, t, h, mask=mask)


def _rk4(space, field, x, t, h, mask, generator):
    k1 = field(x, t)
    x2 = space.step(x, k1, t, h / 2, mask=mask)
    k2 = space.transport(x, x2, field(x2, t + h / 2))
    x3 = space.step(x, k2, t, h / 2, mask=mask)
    k3 = space.transport(x, x3, field(x3, t + h / 2))
    x4 = space.step(x, k3, t, h, mask=mask)
    k4 = space.transport(x, x4, field(x4, t + h))
    return space.step(x, (k1 + 2 * k2 + 2 * k3 + k4) / 6, t, h, mask=mask)


#: fixed-step solver table: name -> one step
FIXED_STEP_METHODS = {"euler": _euler, "midpoint": _midpoint, "rk4": _rk4}


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
    sampling, decreasing for likelihood). A grid starting at 0.5 starts at 0.5.
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


class _AmbientODE(nn.Module):
    """dx/dt for torchdiffeq: ambient velocity of the projected state."""

    def __init__(self, space: ManifoldSpace, field: VelocityField) -> None:
        super().__init__()
        self.space, self.field = space, field

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        xp = self.space.projx(x)
        v = self.space.proju(xp, self.field(xp, t))
        return self.space.to_ambient_velocity(xp, v)


def _progress(it, enabled: bool, total: int):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="sampling", leave=False)


@torch.no_grad()
def sample(
    model: nn.Module | Callable[..., Tensor],
    space: Space,
    x0_or_n: Tensor | int,
    *,
    steps: int | None = 100,
    method: str = "euler",
    time_grid: Tensor | list[float] | None = None,
    cond: dict[str, Any] | None = None,
    guidance_scale: float | None = None,
    mask: Tensor | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> SampleResult:
    """Integrate ``model`` on ``space`` from the prior (t=0) to data (t=1).

    Args:
        model: ``model(x, t, **cond) -> output`` with ``t`` of shape ``(n,)``.
        space: any Space; midpoint, rk4 and torchdiffeq methods need a ManifoldSpace.
        x0_or_n: starting states ``(n, *event_shape)`` or a count to draw from the prior.
        steps: number of equal steps (ignored when ``time_grid`` is given).
        method: 'euler', 'midpoint', 'rk4' (geometric, fixed step) or a torchdiffeq method
            such as 'dopri5' (adaptive, with ``atol``/``rtol``).
        time_grid: explicit times in [0, 1], strictly monotone; the solver starts at
            ``time_grid[0]``.
        cond: conditioning keyword arguments for the model; ``guidance_scale`` turns on
            classifier-free guidance.
        mask: padding mask, for spaces with maskable positions (kept fixed while sampling).
        return_trajectory: keep the state at every grid time.
        progress: show a progress bar.
        generator: seeds the prior draw and stochastic steps.

    Returns:
        :class:`SampleResult` with the final states, the grid, the trajectory (or None) and
        the number of function evaluations.
    """
    if isinstance(x0_or_n, int):
        x = space.sample_prior(x0_or_n, generator=generator, device=device, dtype=dtype)
    else:
        x = x0_or_n.to(device=device or x0_or_n.device, dtype=dtype or x0_or_n.dtype)
    fdtype = x.dtype if x.is_floating_point() else torch.float32
    grid = make_time_grid(steps, time_grid, device=x.device, dtype=fdtype)
    field = VelocityField(model, space, cond, guidance_scale, mask)

    if method in FIXED_STEP_METHODS:
        if method != "euler" and not isinstance(space, ManifoldSpace):
            raise ValueError(f"method {method!r} needs a ManifoldSpace; {space!r} supports 'euler'")
        one_step = FIXED_STEP_METHODS[method]
        traj = [x] if return_trajectory else None
        k = grid.numel() - 1
        for i in _progress(range(k), progress, k):
            t, h = grid[i], grid[i + 1] - grid[i]
            x = one_step(space, field, x, t, h, mask, generator)
            if traj is not None:
                traj.append(x)
        trajectory = torch.stack(traj) if traj is not None else None
        return SampleResult(x=x, times=grid, trajectory=trajectory, nfe=field.nfe)

    if not isinstance(space, ManifoldSpace):
        raise ValueError(f"adaptive method {method!r} needs a ManifoldSpace, got {space!r}")
    if mask is not None:
        raise ValueError("masks are supported by the fixed-step methods only")
    import torchdiffeq

    ode = _AmbientODE(space, field)
    try:
        sol = torchdiffeq.odeint(ode, x, grid, method=method, atol=atol, rtol=rtol)
    except (AssertionError, ValueError) as err:  # torchdiffeq reports bad methods by assert
        raise ValueError(f"torchdiffeq could not integrate with method={method!r}: {err}") from err
    sol = space.projx(sol)
    return SampleResult(
        x=sol[-1], times=grid, trajectory=sol if return_trajectory else None, nfe=field.nfe
    )
