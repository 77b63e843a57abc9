"""Exact log-likelihood of data under a learned flow on any ManifoldSpace.

Instantaneous change of variables on a Riemannian manifold: along the flow x_t of a field
v_t, d/dt log p_t(x_t) = -div v_t(x_t), hence::

    log p1(x1) = log p0(x0) - int_0^1 div v_t(x_t) dt

with x0 obtained by integrating dx/dt = v_t(x) backwards from t = 1 to t = 0. The density
is w.r.t. the Riemannian volume (area on the unit sphere, Lebesgue on [0, 2 pi)^d).

Solvers: the geometric fixed-step methods of :mod:`manifold_fm.solvers` (euler, midpoint,
rk4: every update is the space's exponential-map step) with the divergence quadrature
matching the stage weights, or a torchdiffeq method on the ambient state with projection:
adaptive ones (dopri5 with atol/rtol) integrate from 1 to 0 choosing their own steps,
fixed-grid ones (heun2, ...) take one step per interval of the time grid. Divergence:
exact (tangent basis) or Hutchinson (probes fixed per trajectory); see
:mod:`manifold_fm.solvers.divergence`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import check_cond, model_device, rows_of
from manifold_fm.errors import ManifoldFMError, first_bad_row
from manifold_fm.solvers.divergence import DivergenceField, hutchinson_probes
from manifold_fm.solvers.field import TORCHDIFFEQ_ADAPTIVE, model_params, odeint_ambient
from manifold_fm.solvers.fixed import FIXED_STEP_METHODS, make_time_grid
from manifold_fm.solvers.loop import TORCHDIFFEQ_METHODS
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["LikelihoodError", "LogProbResult", "log_prob"]

#: divergence quadrature weights of each fixed-step method, one per field evaluation
_STAGE_WEIGHTS = {"euler": (1.0,), "midpoint": (0.0, 1.0), "rk4": (1 / 6, 2 / 6, 2 / 6, 1 / 6)}


class LikelihoodError(ManifoldFMError, RuntimeError):
    """The likelihood ODE produced a non-finite value (a failed solve, never a fake 0)."""


@dataclass
class LogProbResult:
    """What :func:`log_prob` returns.

    Attributes:
        log_prob: log p1(x1), shape ``(n,)``.
        log_prior: log p0(x0) at the backward-integrated points, shape ``(n,)``.
        delta_logp: -int_0^1 div v_t(x_t) dt, shape ``(n,)`` (log_prob = log_prior + delta).
        nfe: number of batched field-with-divergence evaluations.
        x0: the points reached at t = 0, shape ``(n, *event_shape)``.
    """

    log_prob: Tensor
    log_prior: Tensor
    delta_logp: Tensor
    nfe: int
    x0: Tensor


def _as_dtype(model: Any, dtype: torch.dtype | None) -> Any:
    """A copy of ``model`` in ``dtype`` if it is a module with parameters of another dtype."""
    if dtype is None or not isinstance(model, nn.Module):
        return model
    params = list(model.parameters())
    if params and all(p.dtype == dtype for p in params):
        return model
    return copy.deepcopy(model).to(dtype)


def _check_finite(values: Tensor, what: str) -> None:
    bad = ~torch.isfinite(values)
    i = first_bad_row(bad)
    if i is not None:
        rows = bad.nonzero().flatten()[:10].tolist()
        raise LikelihoodError(
            f"likelihood solve failed: {what} is non-finite for {int(bad.sum())} of "
            f"{values.numel()} points (first rows {rows}); try float64, more steps or dopri5"
        )


def _solve_fixed(space, field, x, grid, method) -> tuple[Tensor, Tensor]:
    one_step = FIXED_STEP_METHODS[method]
    weights = _STAGE_WEIGHTS[method]
    delta = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
    for i in range(grid.numel() - 1):
        t, h = grid[i], grid[i + 1] - grid[i]
        field.reset()
        x = one_step(space, field, x, t, h, None, None)
        delta = delta + h * sum(w * d for w, d in zip(weights, field.divs) if w)
    return x, delta


def _solve_torchdiffeq(
    space, field, x, grid, method, atol, rtol, adjoint, params
) -> tuple[Tensor, Tensor]:
    acc = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
    rhs = field.velocity_and_divergence  # (v, div): div is d(acc)/dt
    # adaptive methods step on their own between the end times; fixed-grid ones step on
    # the grid (given only the end times they would take a single step)
    times = grid[[0, -1]] if method in TORCHDIFFEQ_ADAPTIVE else grid
    try:
        xs, accs = odeint_ambient(
            space, rhs, (x, acc), times, method, atol, rtol, adjoint=adjoint, params=params
        )
    except AssertionError as err:  # torchdiffeq reports bad methods / underflow by assert
        raise LikelihoodError(f"torchdiffeq failed with method={method!r}: {err}") from err
    return space.projx(xs[-1]), accs[-1]


def log_prob(
    model: nn.Module | Callable[..., Tensor],
    space: ManifoldSpace,
    x1: Tensor,
    *,
    steps: int | None = 100,
    method: str = "euler",
    time_grid: Tensor | list[float] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    divergence: str = "exact",
    n_probes: int = 1,
    probe: str = "rademacher",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    cond: dict[str, Any] | None = None,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    enable_grad: bool = False,
    adjoint: bool = False,
) -> LogProbResult:
    """Log density of ``x1`` under the flow of ``model`` pushed from ``space``'s prior.

    log p1(x1) = log p0(x0) - int_0^1 div v_t(x_t) dt, integrated from t = 1 to t = 0.

    Args:
        model: ``model(x, t, **cond) -> tangent vector`` with ``t`` of shape ``(rows,)``.
        space: any :class:`ManifoldSpace` (needs ``tangent_basis``, ``expmap``,
            ``log_differential``).
        x1: data points, shape ``(n, *event_shape)``.
        steps: number of equal steps of the fixed-step methods, the geometric ones and
            torchdiffeq's fixed-grid ones (ignored by adaptive ones).
        method: 'euler', 'midpoint', 'rk4' (geometric fixed step) or a torchdiffeq method
            (:data:`~manifold_fm.solvers.loop.TORCHDIFFEQ_METHODS`): adaptive such as
            'dopri5' (with ``atol``/``rtol``) or fixed-grid such as 'heun2'.
        time_grid: explicit decreasing grid from 1 to 0 (overrides ``steps``).
        divergence: 'exact' (d directions) or 'hutchinson' (``n_probes`` probes of kind
            ``probe``, drawn once per trajectory from ``generator``).
        dtype: evaluate in this dtype (e.g. torch.float64; the model is copied if needed).
        cond: conditioning keywords for the model (tensors with leading size n; every key
            must be one the model takes).
        batch_size: evaluate at most this many points at once (memory bound).
        device: where to evaluate; default the model's device (x1 and row-wise ``cond``
            tensors are moved there), or x1's for parameter-free models.
        enable_grad: record the solve for autograd: ``log_prob`` can then be
            differentiated with respect to the model's parameters and ``x1`` (the
            divergence's own derivatives are taken with create_graph semantics by
            torch.func). Default: under no_grad. A ``dtype`` that needs a copy of the
            model is refused then (the copy's gradients would not reach the model).
        adjoint: with ``enable_grad`` and a torchdiffeq method, differentiate by the
            adjoint method (torchdiffeq ``odeint_adjoint``, memory O(1) in the steps).

    Returns:
        :class:`LogProbResult`; raises :class:`LikelihoodError` if any value is non-finite.
    """
    if not isinstance(space, ManifoldSpace):
        raise TypeError(f"log_prob needs a ManifoldSpace, got {type(space).__name__}")
    if method not in FIXED_STEP_METHODS and method not in TORCHDIFFEQ_METHODS:
        raise ValueError(
            f"log_prob: unknown method {method!r}; choices: "
            f"{', '.join((*FIXED_STEP_METHODS, *TORCHDIFFEQ_METHODS))}"
        )
    if divergence not in ("exact", "hutchinson"):
        raise ValueError(f"divergence must be 'exact' or 'hutchinson', got {divergence!r}")
    if adjoint and (not enable_grad or method in FIXED_STEP_METHODS):
        raise ValueError(
            f"log_prob: adjoint=True needs enable_grad=True and a torchdiffeq method, got "
            f"enable_grad={enable_grad!r}, method={method!r}"
        )
    check_cond(model, cond)
    space.validate(x1)
    if enable_grad and _as_dtype(model, dtype) is not model:
        raise ValueError(
            f"log_prob: enable_grad=True with dtype={dtype} would copy the model into that "
            "dtype and lose its gradients; convert the model first (model.to(dtype))"
        )
    device = device if device is not None else model_device(model)
    if device is not None:
        x1 = x1.to(device)
        cond = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in (cond or {}).items()}
    if dtype is not None and dtype != x1.dtype:
        x1 = space.projx(x1.to(dtype))  # re-project: rounding of the old dtype is off-manifold
    model = _as_dtype(model, dtype)
    n = x1.shape[0]
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    chunk = n if batch_size is None else int(batch_size)
    if time_grid is None and method in TORCHDIFFEQ_ADAPTIVE:
        time_grid = [1.0, 0.0]  # adaptive solvers choose their own steps
    grid = make_time_grid(
        None if time_grid is not None else steps, time_grid, t0=1.0, t1=0.0, dtype=x1.dtype
    )
    if not bool((grid.diff() < 0).all()):
        raise ValueError("likelihood time grid must decrease (integrate from data to prior)")
    grid = grid.to(x1.device)
    probes = None
    if divergence == "hutchinson":
        probes = hutchinson_probes(
            n, n_probes, space.dim, kind=probe, generator=generator, device=x1.device
        )
    outs, deltas, nfe = [], [], 0
    for lo in range(0, n, chunk):
        xb = x1[lo : lo + chunk]
        cb = rows_of(cond, lo, lo + chunk, n)
        pb = None if probes is None else probes[lo : lo + chunk]
        field = DivergenceField(model, space, xb.shape[0], pb, cb)
        with torch.set_grad_enabled(enable_grad):
            if method in FIXED_STEP_METHODS:
                x0, delta = _solve_fixed(space, field, xb, grid, method)
            else:
                params = model_params(model)
                x0, delta = _solve_torchdiffeq(
                    space, field, xb, grid, method, atol, rtol, adjoint, params
                )
        outs.append(x0)
        deltas.append(delta)
        nfe += field.nfe
    x0 = torch.cat(outs)
    delta = torch.cat(deltas)
    _check_finite(delta, "the divergence integral")
    with torch.set_grad_enabled(enable_grad):
        prior = space.log_prior(x0)
    _check_finite(prior, "the prior log density at x0")
    return LogProbResult(log_prob=prior + delta, log_prior=prior, delta_logp=delta, nfe=nfe, x0=x0)
