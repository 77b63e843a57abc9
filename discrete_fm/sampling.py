"""The two CTMC jumps a :class:`discrete_fm.CTMCSpace` sampling step can make.

The jump math (tau-leaping and the ancestral redraw, with their exact
final step) is the sampling half of the CTMC space; the loop that drives it is the one
:func:`manifold_fm.solvers.sample` shared by every space (``method="euler"`` calls
``space.step``, ``method="ancestral"`` the space's declared ancestral step).

With w_t = kappa'_t / (1 - kappa_t) and p = p(x1 | x_t) from the model's logits:

* ``"euler"`` (tau-leaping): each position jumps with probability 1 - exp(-dt lambda),
  lambda = w_t (1 - p(x1 = x_t | x_t)), to y != x_t drawn with probability proportional to
  p(x1 = y | x_t) (mask source: p(x1 = M) = 0, so lambda = w_t on masked positions);
* ``"ancestral"``: each still-corrupted position is redrawn from p(x1 | x_t) with probability
  (kappa_{t+dt} - kappa_t) / (1 - kappa_t). For the mask source this has no per-token
  time-discretization error, only the factorisation error of unmasking several positions
  in one step.

Both make the final step exact: when t + dt reaches 1 every still-corrupted position is drawn
from the posterior.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from discrete_fm.categorical import apply_temperature_top_p, sample_categorical
from discrete_fm.rates import hazard
from manifold_fm.solvers import SampleResult, sample

if TYPE_CHECKING:
    from discrete_fm.space import CTMCSpace

__all__ = ["JUMP_KINDS", "ctmc_step", "sample_ancestral"]

JUMP_KINDS = ("euler", "ancestral")


def _draw(
    space: CTMCSpace, logits: Tensor, exclude: Tensor | None, active: Tensor | None, generator
):
    """Draw from softmax(logits) rows (m, V); where ``active`` (m,) never draw ``exclude``."""
    probs = torch.softmax(logits.to(space.sampling_dtype), dim=-1)
    if exclude is not None:
        keep = (~active).to(probs.dtype).unsqueeze(-1)
        probs = probs.scatter(
            -1, exclude.unsqueeze(-1), probs.gather(-1, exclude.unsqueeze(-1)) * keep
        )
    return sample_categorical(probs, generator=generator, dtype=space.sampling_dtype)


def _corrupted(space: CTMCSpace, x: Tensor, mask: Tensor | None) -> Tensor:
    """Positions that may still change: masked ones (mask source) or all real ones."""
    c = x == space.vocab_size if space.source == "mask" else torch.ones_like(x, dtype=torch.bool)
    return c if mask is None else c & mask


def ctmc_step(
    space: CTMCSpace,
    x: Tensor,
    output: Tensor,
    t: Tensor | float,
    dt: Tensor | float,
    kind: str,
    *,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One jump of kind ``"euler"`` or ``"ancestral"`` (module docstring) from t to t + dt.

    Shapes: x long (n, L); output logits (n, L, V); t, dt scalars or (n,); mask (n, L) bool
    or None (padded positions never change). Returns the new long (n, L) states.
    """
    if kind not in JUMP_KINDS:
        raise ValueError(f"CTMCSpace: jump kind must be one of {JUMP_KINDS}, got {kind!r}")
    space._check_points(x, "x")
    mask = space.check_mask(x, mask)
    n = x.shape[0]
    t = space._times(t, n, x.device).to(torch.float64)
    dt = space._times(dt, n, x.device).to(torch.float64)
    final = t + dt >= 1 - 1e-7
    output = apply_temperature_top_p(output, space.temperature, space.top_p)  # off by default
    elig = _corrupted(space, x, mask)
    exclude = active = None
    if kind == "ancestral" or space.source == "mask":
        if kind == "ancestral":
            k0, _ = space.schedule(t)
            k1, _ = space.schedule((t + dt).clamp_max(1.0))
            prob = (k1 - k0) / (1 - k0).clamp_min(1e-300)
        else:
            prob = -torch.expm1(-dt * hazard(space.schedule, t))
        prob = torch.where(final, 1.0, prob).unsqueeze(-1)
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64)
        jump = elig & (u < prob)
    else:  # uniform source, Euler
        lse = torch.logsumexp(output.float(), dim=-1)
        lp_x = output.float().gather(-1, x.unsqueeze(-1)).squeeze(-1) - lse
        lam = hazard(space.schedule, t).unsqueeze(-1) * (-torch.expm1(lp_x.double()))
        prob = -torch.expm1(-dt.unsqueeze(-1) * lam)
        prob = torch.where(final.unsqueeze(-1), 1.0, prob)
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64)
        jump = elig & (u < prob)
        # a non-final Euler jump leaves x_t; the final step draws x1 from the posterior
        exclude, active = x[jump], (~final).unsqueeze(-1).expand_as(x)[jump]
    if not bool(jump.any()):
        return x
    out = x.clone()
    out[jump] = _draw(space, output[jump], exclude, active, generator)
    return out


def sample_ancestral(
    model: nn.Module | Callable[..., Tensor],
    space: CTMCSpace,
    x0_or_n: Tensor | int,
    **kwargs: Any,
) -> SampleResult:
    """``manifold_fm.solvers.sample(model, space, x0_or_n, method="ancestral", **kwargs)``.

    The exact-in-time ancestral sampler of sequences (n, L); keyword arguments are those of
    :func:`manifold_fm.solvers.sample`.
    """
    return sample(model, space, x0_or_n, method="ancestral", **kwargs)
