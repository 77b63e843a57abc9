"""Properties of check_space about the prior: sampler and density describe one law, and the
density integrates to 1.

Both are Monte Carlo checks on ``mc`` float64 prior samples, judged by z-scores (estimate
over its standard error), so a seeded run has a known false-alarm rate and the tolerance
needs no tuning per space.

* ``prior_stein``: for a smooth tangent field v, E_p[<grad log p, v> + div v] = 0 (Stein's
  identity: the integral of div(p v) vanishes). It catches a sampler that draws from another
  law than ``log_prior`` describes and a wrong ``dim`` (the divergence sums over ``dim``
  basis vectors); an additive constant in ``log_prior`` is invisible to it. Besides
  constant and radial fields it runs the per-direction fields of
  :mod:`~manifold_fm.testing.stein.axes` (linear and quadratic in normal coordinates along
  each principal axis at the prior's centre), which catch a sampler whose spread is wrong
  along a single direction, which the radial fields average with the d - 1 right ones.
* ``log_prior_normalized``: the integral of exp(log_prior) is 1. Finite volume: mean of
  p * Vol over uniform samples (or of 1 / (p Vol) over prior samples). Infinite volume:
  E_p[q / p] = 1 for a proposal q of known density (a Gaussian in normal coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from manifold_fm.solvers.divergence import DivergenceField
from manifold_fm.testing.context import Ctx
from manifold_fm.testing.report import PropertyResult
from manifold_fm.testing.stein.axes import axis_frame, axis_stein_integrands
from manifold_fm.testing.stein.fields import gaussian_proposal_log_density, stein_fields

__all__ = ["Z_MAX", "log_prior_normalized", "prior_stein"]

#: largest accepted absolute z-score; the two-sided normal tail is 2e-9, but the integrands are
#: heavy-tailed on SPD and products (observed z spread up to 1.4 instead of 1 over seeds)
Z_MAX = 6.0


def _z(vals: Tensor, target: float) -> tuple[float, float, float]:
    """(z, mean, standard error) of the mean of ``vals`` against ``target``.

    The standard error has a floor of 1e-9 times the mean magnitude (float64 rounding of
    identically-zero integrands).
    """
    m = vals.numel()
    mean = float(vals.mean())
    se = math.sqrt(float(vals.var()) / m + (1e-9 * float(vals.abs().mean())) ** 2) + 1e-15
    return (mean - target) / se, mean, se


def _grad_log_prior_along(c: Ctx, x: Tensor, v: Tensor) -> Tensor:
    """<grad log p(x), v>_x by the central difference of s -> log p(exp_x(s v)), shape (m,).

    Step h = 1e-5 / |v|_x per row (float64): truncation O(h^2), rounding O(1e-16 / h).
    """
    sp = c.space
    vn = sp.norm(x, v)
    h = 1e-5 / vn.clamp_min(1e-12)
    hv = c.pad_t(h) * v
    up, down = sp.log_prior(sp.expmap(x, hv)), sp.log_prior(sp.expmap(x, -hv))
    return torch.where(vn > 0, (up - down) / (2 * h), torch.zeros_like(vn))


def _stein_integrand(c: Ctx, x: Tensor, field: Callable[[Tensor], Tensor]) -> Tensor:
    """<grad log p, v> + div v at each row of ``x`` (library divergence), shape (m,)."""
    div_field = DivergenceField(lambda y, t: field(y), c.space, x.shape[0])
    v, div = div_field.velocity_and_divergence(x, 0.0)
    v = v.detach()
    return _grad_log_prior_along(c, x, v) + div.detach()


def prior_stein(c: Ctx) -> PropertyResult:
    """Stein identity E_p[<grad log p, v> + div v] = 0 over two families of fields.

    * the fields of :func:`~manifold_fm.testing.stein.fields.stein_fields` (constant,
      radial and swirl fields around random anchors), each evaluated on the rows where it
      is non-zero and contributing 0 elsewhere;
    * the per-direction fields of :mod:`~manifold_fm.testing.stein.axes` (w u_i,
      w xi_j u_i, w xi_i^2 u_i in normal coordinates at the prior's centre): complete for
      a sampler whose spread is wrong along any one direction (or any covariance
      mismatch), which the first family averages away.

    Error = max |z| over all fields, tolerance ``Z_MAX``; the reason lists the z-score of
    every field of the first family and, for the second, the largest |z| of each kind.
    """
    x = c.mc_sample()
    fields = stein_fields(c, x)
    zs, worst = [], (0.0, "")
    for name, field, rows in fields:
        vals = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        if bool(rows.any()):
            vals[rows] = _stein_integrand(c, x[rows], field)
        z, _, _ = _z(vals, 0.0)
        zs.append(f"{name}: z={z:+.2f}")
        if not math.isfinite(z) or abs(z) > abs(worst[0]):
            worst = (z if math.isfinite(z) else math.inf, name)
    frame = axis_frame(c)
    axis_vals, inside = axis_stein_integrands(c, x, frame)
    kinds: dict[str, tuple[float, str]] = {}
    for name, vals in axis_vals.items():
        z, _, _ = _z(vals, 0.0)
        z = z if math.isfinite(z) else math.inf
        kind = name.split("_")[0]
        if abs(z) >= abs(kinds.get(kind, (0.0, ""))[0]):
            kinds[kind] = (z, name)
        if abs(z) > abs(worst[0]):
            worst = (z, name)
    where = "all rows" if math.isinf(frame.radius) else f"r={frame.radius:.3g}, {inside} rows"
    axes = ", ".join(f"{n}: z={z:+.2f}" for z, n in kinds.values())
    why = f"{x.shape[0]} samples; " + ", ".join(zs)
    why += f"; {len(axis_vals)} per-direction fields ({where}), largest of each kind: {axes}"
    return c.result("prior_stein", torch.tensor([abs(worst[0])]), Z_MAX, {}, why)


def log_prior_normalized(c: Ctx) -> PropertyResult:
    """Monte Carlo: the integral of exp(log_prior) over the manifold is 1.

    Finite volume: with a uniform sampler, mean_u[p(u)] * Vol ~ 1; otherwise
    mean_p[1 / p(x)] / Vol ~ 1 (E_p[1/p] = Vol; for a constant log_prior this pins the
    constant to -log Vol). Infinite volume: mean_p[q(x) / p(x)] ~ 1 for the Gaussian q of
    :func:`gaussian_proposal_log_density`; skipped, saying so, when its importance weights
    are degenerate (effective sample size below 2%). Error: |estimate - 1|, tolerance
    ``Z_MAX`` standard errors plus the dtype's base tolerance.
    """
    sp = c.space
    vol = sp.volume
    name = "log_prior_normalized"
    if math.isfinite(vol):
        kw = {"generator": c.g, "device": c.device, "dtype": torch.float64}
        uniform = getattr(sp, "random_uniform", None)
        try:
            if uniform is None:
                raise NotImplementedError("no random_uniform")
            u = uniform(c.mc, **kw)
            vals = torch.exp(sp.log_prior(u).double() + math.log(vol))
            how = "mean over uniform samples of p * Vol"
        except NotImplementedError:
            vals = torch.exp(-sp.log_prior(c.mc_sample()).double() - math.log(vol))
            how = "mean over prior samples of 1 / (p * Vol)"
    else:
        x = c.mc_sample()
        fit, rest = x[:256], x[256:]
        log_q, how = gaussian_proposal_log_density(c, fit, rest)
        vals = torch.exp(log_q - sp.log_prior(rest).double())
        ess = float(vals.sum() ** 2 / (vals * vals).sum().clamp_min(1e-300))
        how += f", effective sample size {ess:.0f}"
        if not ess >= 0.02 * rest.shape[0]:
            return PropertyResult(name, "skipped", reason=f"degenerate weights: {how}")
    z, mean, se = _z(vals, 1.0)
    tol = Z_MAX * se + max(c.base, 1e-6 if c.dtype == torch.float64 else 1e-4)
    why = f"{how}, {vals.numel()} samples, estimate {mean:.5f} +- {se:.1e}, z={z:+.2f}"
    return c.result(name, torch.tensor([abs(mean - 1)]), tol, {}, why)
