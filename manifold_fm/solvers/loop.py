"""The one sampling loop: :func:`sample` drives every Space through a method table.

The loop, the method table a space gets and the argument checks are
the sampler's public face; the field (:mod:`manifold_fm.solvers.field`) and the step
functions (:mod:`manifold_fm.solvers.fixed`) are its parts. The table of a space is

* ``euler`` on every Space (``space.step``);
* ``midpoint`` and ``rk4`` on a ManifoldSpace (they need ``log_differential``);
* the space's declared ``sampling_steps`` (the CTMC's ``"ancestral"``);
* the torchdiffeq methods (:data:`TORCHDIFFEQ_METHODS`) on a ManifoldSpace, which
  integrate the ambient ODE of :class:`~manifold_fm.solvers.field.AmbientODE` over the
  whole time grid and project the result: the adaptive ones (``dopri5``, ...) choose their
  own steps and report at the grid times, the fixed-grid ones (``heun2``, ...) take one
  step per grid interval. torchdiffeq's own euler / midpoint / rk4 are shadowed by the
  geometric ones above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import check_cond, model_device
from manifold_fm.progress import progress as progress_reporter
from manifold_fm.solvers.field import (
    TORCHDIFFEQ_ADAPTIVE,
    TORCHDIFFEQ_FIXED,
    FieldPolicy,
    VelocityField,
    model_params,
    odeint_ambient,
)
from manifold_fm.solvers.fixed import (
    FIXED_STEP_METHODS,
    MANIFOLD_ONLY,
    StepFn,
    make_time_grid,
    space_step,
)
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = ["TORCHDIFFEQ_METHODS", "SampleResult", "sample", "sampling_methods"]

#: the methods :func:`sample` and :func:`~manifold_fm.solvers.log_prob` run through
#: torchdiffeq: its adaptive ones, then its fixed-grid ones that the geometric table
#: (:data:`~manifold_fm.solvers.fixed.FIXED_STEP_METHODS`) does not replace
TORCHDIFFEQ_METHODS = TORCHDIFFEQ_ADAPTIVE + tuple(
    m for m in TORCHDIFFEQ_FIXED if m not in FIXED_STEP_METHODS
)


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


def _step_table(space: Space) -> dict[str, StepFn]:
    table = {"euler": FIXED_STEP_METHODS["euler"]}
    if isinstance(space, ManifoldSpace):
        table.update({m: FIXED_STEP_METHODS[m] for m in MANIFOLD_ONLY})
    table.update({name: space_step(fn) for name, fn in space.sampling_steps.items()})
    return table


def sampling_methods(space: Space) -> tuple[str, ...]:
    """The method names :func:`sample` accepts for ``space`` (fixed-step ones first)."""
    torchdiffeq = TORCHDIFFEQ_METHODS if isinstance(space, ManifoldSpace) else ()
    return (*_step_table(space), *torchdiffeq)


def _check_method(space: Space, method: str) -> None:
    choices = sampling_methods(space)
    if method in choices:
        return
    if method in MANIFOLD_ONLY or method in TORCHDIFFEQ_METHODS:
        raise ValueError(
            f"method {method!r} needs a ManifoldSpace; {space!r} supports {', '.join(choices)}"
        )
    raise ValueError(f"unknown method {method!r} for {space!r}; choices: {', '.join(choices)}")


def _progress(it, enabled: bool, total: int):
    if not enabled:
        return it
    return progress_reporter(it, total=total, desc="sampling", leave=False)


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
    policies: Sequence[FieldPolicy] = (),
    mask: Tensor | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    enable_grad: bool = False,
    adjoint: bool = False,
) -> SampleResult:
    """Integrate ``model`` on ``space`` from the prior (t=0) to data (t=1).

    Args:
        model: ``model(x, t, **cond) -> output`` with ``t`` of shape ``(n,)``.
        space: any Space; :func:`sampling_methods` lists the methods it supports.
        x0_or_n: starting states ``(n, *event_shape)`` (checked with
            ``space.validate_state``, never silently projected) or a count to draw from the
            prior, on ``device`` or else the model's device.
        steps: number of equal steps (ignored when ``time_grid`` is given); for the
            adaptive torchdiffeq methods only the times the state is reported at.
        method: 'euler', 'midpoint', 'rk4' (geometric, fixed step), a method the space
            declares (CTMC: 'ancestral') or a torchdiffeq method (:data:`TORCHDIFFEQ_METHODS`):
            adaptive such as 'dopri5' (with ``atol``/``rtol``) or fixed-grid such as
            'heun2' (one step per grid interval).
        time_grid: explicit times in [0, 1], strictly monotone; the solver starts at
            ``time_grid[0]``.
        cond: conditioning keyword arguments for the model (every key must be one the model
            takes); ``guidance_scale`` turns on classifier-free guidance.
        policies: sampler policies applied to the field, e.g. ``[RotationRate(c)]``; every
            method integrates the same modified field.
        mask: padding mask, for spaces with maskable positions: the prior draw (when
            ``x0_or_n`` is a count) takes it, and padded positions stay fixed while sampling.
        return_trajectory: keep the state at every grid time.
        progress: show a progress bar.
        generator: seeds the prior draw and stochastic steps.
        enable_grad: record the solve for autograd, so the result can be differentiated
            with respect to the model's parameters and ``x0`` (default: under no_grad).
        adjoint: with ``enable_grad`` and a torchdiffeq method, differentiate by
            torchdiffeq's adjoint method (``odeint_adjoint``: memory O(1) in the number of
            steps, gradients to ``x0`` and the model's parameters); a fixed-step method
            refuses it (ValueError), since its backward pass is autograd's own.

    Returns:
        :class:`SampleResult` with the final states, the grid, the trajectory (or None) and
        the number of function evaluations.
    """
    _check_method(space, method)
    if adjoint and (not enable_grad or method not in TORCHDIFFEQ_METHODS):
        raise ValueError(
            f"adjoint=True needs enable_grad=True and a torchdiffeq method, got "
            f"enable_grad={enable_grad!r}, method={method!r}"
        )
    with torch.set_grad_enabled(enable_grad):
        return _integrate(
            model,
            space,
            x0_or_n,
            steps,
            method,
            time_grid,
            cond,
            guidance_scale,
            policies,
            mask,
            return_trajectory,
            progress,
            generator,
            device,
            dtype,
            atol,
            rtol,
            adjoint,
        )


def _integrate(
    model,
    space,
    x0_or_n,
    steps,
    method,
    time_grid,
    cond,
    guidance_scale,
    policies,
    mask,
    return_trajectory,
    progress,
    generator,
    device,
    dtype,
    atol,
    rtol,
    adjoint,
) -> SampleResult:
    """The body of :func:`sample` (arguments as there), under the caller's grad mode."""
    check_cond(model, cond, guidance=guidance_scale is not None)
    field = VelocityField(model, space, cond, guidance_scale, mask, policies)
    if isinstance(x0_or_n, int):
        device = device if device is not None else model_device(model)
        # the mask reaches the prior as it reaches every step (SE(3): centred over the
        # real residues); passed only when given, so mask-less spaces need no parameter
        mask_kw = {} if mask is None else {"mask": mask}
        x = space.sample_prior(x0_or_n, generator=generator, device=device, dtype=dtype, **mask_kw)
    else:
        space.validate_state(x0_or_n)
        x = x0_or_n.to(device=device or x0_or_n.device, dtype=dtype or x0_or_n.dtype)
    # token ids are integers: their times are float64, the CTMC step's own precision
    fdtype = x.dtype if x.is_floating_point() else torch.float64
    grid = make_time_grid(steps, time_grid, dtype=fdtype).to(x.device)

    if method not in TORCHDIFFEQ_METHODS:
        one_step = _step_table(space)[method]
        traj = [x] if return_trajectory else None
        k = grid.numel() - 1
        for i in _progress(range(k), progress, k):
            t, h = grid[i], grid[i + 1] - grid[i]
            x = one_step(space, field, x, t, h, mask, generator)
            if traj is not None:
                traj.append(x)
        trajectory = torch.stack(traj) if traj is not None else None
        return SampleResult(x=x, times=grid, trajectory=trajectory, nfe=field.nfe)

    if mask is not None:
        raise ValueError("masks are supported by the fixed-step methods only")
    try:
        sol = odeint_ambient(
            space, field, x, grid, method, atol, rtol, adjoint=adjoint, params=model_params(model)
        )
    except (AssertionError, ValueError) as err:
        raise ValueError(f"torchdiffeq could not integrate with method={method!r}: {err}") from err
    sol = space.projx(sol)
    return SampleResult(
        x=sol[-1], times=grid, trajectory=sol if return_trajectory else None, nfe=field.nfe
    )
