"""Test fields and proposal densities for the Monte Carlo prior properties of check_space.

Smooth tangent fields built from the public ManifoldSpace API only:

* ``const_k``: v(x) = from_ambient_velocity(x, C_k), a constant ambient vector projected
  onto each tangent space (smooth on embedded manifolds, constant on flat charts).
* ``radial_k`` / ``swirl_k``: w_k(x) log_x(y_k) and w_k(x) from_ambient_velocity(x, C_k)
  with the C^2 bump w_k(x) = (1 - d(x, y_k)^2 / r^2)^3_+ around an anchor y_k. The radius
  r is 3 times the median distance to the anchor (the bump covers most samples, so the
  fields see the spread of the prior), capped at 0.9 times the probed cut radius, so the
  bump vanishes before the cut locus, where d^2 and log_x y stop being smooth.
* spaces without logmap/dist get ``linear_k``: from_ambient_velocity(x, M_k x) instead,
  which is smooth because such spaces are embedded (their points are ambient coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from manifold_fm.testing.context import Ctx

__all__ = ["gaussian_proposal_log_density", "stein_fields"]

Field = Callable[[Tensor], Tensor]


def _bump(d: Tensor, r: float) -> Tensor:
    """(1 - d^2 / r^2)^3 for d < r, else 0 (C^2, with zero derivatives at d = r)."""
    return torch.relu(1 - (d / r) ** 2) ** 3


def stein_fields(c: Ctx, x: Tensor) -> list[tuple[str, Field, Tensor]]:
    """(name, field, rows) triples: ``field(x) -> (m, *tangent_shape)``, ``rows`` (m,) bool
    marks the rows of ``x`` (float64 prior samples) where the field may be non-zero."""
    sp = c.space
    ev, m = sp.event_shape, x.shape[0]
    all_rows = torch.ones(m, dtype=torch.bool, device=x.device)
    consts = [c.rand(ev, torch.float64) for _ in range(3)]
    out: list[tuple[str, Field, Tensor]] = []
    for k, cst in enumerate(consts[:2]):
        out.append(
            (
                f"const_{k}",
                lambda y, cst=cst: sp.from_ambient_velocity(y, cst.expand_as(y)),
                all_rows,
            )
        )
    anchors = sp.sample_prior(2, generator=c.g, device=c.device, dtype=torch.float64)
    try:
        d = torch.stack([sp.dist(x, a.expand_as(x)) for a in anchors])
        sp.logmap(x[:1], anchors[:1])
    except NotImplementedError:
        for k in range(2):
            mat = c.rand((x[0].numel(), x[0].numel()), torch.float64) / math.sqrt(x[0].numel())

            def linear(y: Tensor, mat=mat) -> Tensor:
                flat = y.flatten(start_dim=y.dim() - c.en)
                return sp.from_ambient_velocity(y, (flat @ mat.T).reshape(y.shape))

            out.append((f"linear_{k}", linear, all_rows))
        return out
    for k, a in enumerate(anchors):
        scale = float(d[k].median())
        r = min(3 * scale, 0.9 * c.cut_radius(a, scale))
        rows = d[k] < r

        def radial(y: Tensor, a=a, r=r) -> Tensor:
            ya = a.expand_as(y)
            return c.pad_t(_bump(sp.dist(y, ya), r)) * sp.logmap(y, ya)

        def swirl(y: Tensor, a=a, r=r, cst=consts[k]) -> Tensor:
            w = _bump(sp.dist(y, a.expand_as(y)), r)
            return c.pad_t(w) * sp.from_ambient_velocity(y, cst.expand_as(y))

        out += [(f"radial_{k}", radial, rows), (f"swirl_{k}", swirl, rows)]
    return out


def gaussian_proposal_log_density(c: Ctx, fit: Tensor, x: Tensor) -> tuple[Tensor, str]:
    """log q(x) for q = law of exp_y(sum_i xi_i b_i), xi ~ N(0, s^2 I_dim) given |xi| < r.

    y: the point of ``fit`` with the largest log_prior, moved twice to
    exp_y(mean log_y fit); b: tangent_basis(y); s^2 = mean |log_y fit|^2 / dim; r: 0.9 times
    the probed cut radius at y (inf when none is found), inside which exp_y is a
    diffeomorphism with inverse log_y. Change of variables in normal coordinates:
    q(x) = N(xi; 0, s^2 I) / (J(xi) P(chi^2_dim < r^2 / s^2)) with xi_i = <b_i, log_y x>_y
    and J(xi) = sqrt(det <d exp_y[b_i], d exp_y[b_j]>) (forward-mode derivatives of expmap,
    read as tangents with from_ambient_velocity). ``fit``/``x``: (k | m, *event_shape)
    float64. Returns (log q of shape (m,), a description).
    """
    sp = c.space
    d = sp.dim
    y = fit[sp.log_prior(fit).argmax()]
    for _ in range(2):
        y = sp.expmap(y, sp.logmap(y.expand_as(fit), fit).mean(0))
    s2 = float(sp.norm(y.expand_as(fit), sp.logmap(y.expand_as(fit), fit)).pow(2).mean()) / d
    r = 0.9 * c.cut_radius(y, math.sqrt(s2 * d))
    basis = sp.tangent_basis(y.unsqueeze(0))[0]  # (dim, *tangent_shape)
    m = x.shape[0]
    ym = y.expand_as(x)
    lg = sp.logmap(ym, x)
    xi = torch.stack([sp.inner(ym, lg, b.expand_as(lg)) for b in basis], -1)  # (m, dim)
    coords = torch.einsum("md,d...->m...", xi, basis)
    z = sp.expmap(ym, coords)
    cols = []
    for b in basis:
        _, dz = torch.func.jvp(lambda u: sp.expmap(ym, u), (coords,), (b.expand_as(coords),))
        cols.append(sp.from_ambient_velocity(z, dz))
    zk = z.unsqueeze(1).expand(m, d, *z.shape[1:])
    ck = torch.stack(cols, 1)
    gram = sp.inner(zk.unsqueeze(2).expand(m, d, d, *z.shape[1:]), ck.unsqueeze(2), ck.unsqueeze(1))
    log_j = 0.5 * torch.linalg.slogdet(gram)[1]
    sq = (xi * xi).sum(-1)
    log_mass = (
        0.0
        if math.isinf(r)
        else math.log(
            float(torch.special.gammainc(torch.tensor(d / 2), torch.tensor(r * r / (2 * s2))))
        )
    )
    log_q = -0.5 * sq / s2 - 0.5 * d * math.log(2 * math.pi * s2) - log_j - log_mass
    log_q = torch.where(sq < r * r, log_q, torch.full_like(log_q, -math.inf))
    how = "mean of q / p over prior samples, q normal-coordinate Gaussian"
    how += f" (s={s2**0.5:.3g}, r={r:.3g})"
    return log_q, how
