"""The unit sphere S^d in R^{d+1}, with closed-form exp/log and geodesic velocity.

Every map in closed form (no geoopt: importing this module stays cheap), chosen to be fast
and numerically safe:

* proju(x, v) = v - <x, v> x
* dist(x, y) = atan2(|y - <x,y> x|, <x,y>)   (no acos: exact and smooth near 0 and pi)
* log_x(y)   = dist * u / |u| with u = y - <x,y> x, written as u * (theta / |u|) so it is
  finite at y = x. **Antipodal points** (u = 0, <x,y> < 0) have no unique geodesic; we
  choose, deterministically, the direction of the standard basis axis e_k with
  k = argmin_k |x_k| projected onto the tangent space at x, so log_x(-x) = pi * e.
* exp_x(v)   = cos|v| x + sinc|v| v.
* geodesic velocity gamma'(s) = cos(s theta) v - theta sin(s theta) x0 (v = log_{x0} x1,
  theta = |v|), valid at s = 1, so the training target is bounded by kappa' * pi.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm._math import safe_norm, sinc, sphere_log_area
from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["Sphere"]


class Sphere(ManifoldSpace):
    """S^d = {x in R^{d+1} : |x| = 1} with the round metric and uniform prior.

    Args:
        d: intrinsic dimension (S^2 has points in R^3).
        schedule: kappa schedule of the geodesic path (default linear).
    """

    def __init__(self, d: int = 2, schedule: KappaSchedule | str | None = None) -> None:
        super().__init__(schedule)
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"Sphere: intrinsic dimension d must be an int >= 1, got {d!r}")
        self.dim = d
        self.event_shape = torch.Size((d + 1,))

    @property
    def volume(self) -> float:
        return math.exp(sphere_log_area(self.dim))

    def sample_prior(self, n, *, generator=None, device=None, dtype=None, mask=None) -> Tensor:
        self.check_prior_mask(n, mask)  # no maskable positions: only None passes
        g = torch.randn((n, self.dim + 1), generator=generator, device=device, dtype=dtype)
        return g / safe_norm(g, keepdim=True)

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        self.check_mask(x, mask)
        return torch.full(x.shape[:-1], -sphere_log_area(self.dim), device=x.device, dtype=x.dtype)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return v - (x * v).sum(-1, keepdim=True) * x

    def projx(self, x: Tensor) -> Tensor:
        return x / safe_norm(x, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        return (u * v).sum(-1)

    def point_error(self, x: Tensor) -> Tensor:
        return (safe_norm(x) - 1).abs()

    def _orth(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(u, |u|, <x,y>) with u = y - <x,y> x the part of y orthogonal to x.

        u is orthogonalised twice (classical Gram-Schmidt with one re-orthogonalisation):
        for nearly antipodal or equal points rounding leaves a normal part of size ~eps in
        the first pass, which ``logmap`` would otherwise scale up by theta / |u|.
        """
        c = (x * y).sum(-1, keepdim=True)
        u = y - c * x
        u = u - (x * u).sum(-1, keepdim=True) * x
        return u, safe_norm(u, keepdim=True), c

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        _, s, c = self._orth(x, y)
        return torch.atan2(s, c).squeeze(-1)

    def _antipodal_direction(self, x: Tensor) -> Tensor:
        """Deterministic unit tangent at x: the least-aligned basis axis, projected."""
        k = x.abs().argmin(dim=-1, keepdim=True)
        e = torch.zeros_like(x).scatter_(-1, k, 1.0)
        e = e - (x * e).sum(-1, keepdim=True) * x
        return e / safe_norm(e, keepdim=True).clamp_min(torch.finfo(x.dtype).eps)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        u, s, c = self._orth(x, y)
        theta = torch.atan2(s, c)
        tiny = torch.finfo(x.dtype).eps  # below this |u| is rounding noise: no direction
        degenerate = s <= tiny
        # theta / s -> 1 as s -> 0 with c > 0 (y near x); the antipodal branch replaces u.
        ratio = torch.where(degenerate, torch.ones_like(s), theta / torch.where(degenerate, 1, s))
        log = u * ratio
        antipodal = degenerate & (c < 0)
        if bool(antipodal.any()):
            log = torch.where(antipodal, math.pi * self._antipodal_direction(x), log)
        return log

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        n = safe_norm(v, keepdim=True)
        return torch.cos(n) * x + sinc(n) * v

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Orthonormal basis of x^perp from a Householder reflection, ``(..., d, d+1)``.

        With e the last axis, s = sign(x_last) and u = x + s e, H = I - 2 u u^T / |u|^2 is
        symmetric orthogonal with H x = -s e, so H e_i (i < d+1), the first d rows of H,
        are orthonormal and orthogonal to x. |u|^2 = 2 + 2 |x_last| >= 2: no cancellation.
        """
        d1 = self.dim + 1
        last = x[..., -1:]
        sign = torch.where(last >= 0, torch.ones_like(last), -torch.ones_like(last))
        u = torch.cat([x[..., :-1], x[..., -1:] + sign], dim=-1)
        scale = 2.0 / (u * u).sum(-1, keepdim=True)
        eye = torch.eye(d1, device=x.device, dtype=x.dtype)[: self.dim]
        h = eye - (scale * u[..., : self.dim]).unsqueeze(-1) * u.unsqueeze(-2)
        return h

    def log_differential(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """Pull a velocity v at y back to T_x through the log chart: d(log_x)_y [v].

        With u = y - <x,y> x, theta = dist(x, y), f = theta / sin(theta) and
        g = (sin(theta) - theta cos(theta)) / sin(theta)^3 (both by their Taylor series to
        theta^6 below theta = 0.1, where the direct forms cancel):
        d(log_x)_y [v] = f (v - <x,v> x) - g <x,v> u.
        This makes the geometric midpoint/RK4 stages Runge-Kutta-Munthe-Kaas steps in
        normal coordinates at x, so RK4 keeps its fourth order (plain projection, the
        default, drops it to second order). Singular only at the antipode of x, which
        stage points of a step never reach.
        """
        v = self.proju(y, v)
        u, s, c = self._orth(x, y)
        theta = torch.atan2(s, c)
        small = theta < 0.1
        ts = torch.where(small, torch.ones_like(theta), theta)
        sin_t = torch.sin(ts)
        t2 = theta * theta
        f = torch.where(small, 1 + t2 * (1 / 6 + t2 * (7 / 360 + t2 * 31 / 15120)), ts / sin_t)
        g_big = (sin_t - ts * torch.cos(ts)) / sin_t**3
        g = torch.where(small, 1 / 3 + t2 * (2 / 15 + t2 * (2 / 63 + t2 * 4 / 675)), g_big)
        xv = (x * v).sum(-1, keepdim=True)
        return f * (v - xv * x) - g * xv * u

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """gamma(s) = cos(s th) x0 + sinc(s th) s v; gamma'(s) = cos(s th) v - th sin(s th) x0."""
        v = self.logmap(x0, x1)
        theta = safe_norm(v, keepdim=True)
        st = s.unsqueeze(-1) * theta
        x_s = torch.cos(st) * x0 + sinc(st) * s.unsqueeze(-1) * v
        return x_s, torch.cos(st) * v - theta * torch.sin(st) * x0

    def __repr__(self) -> str:
        return f"Sphere(d={self.dim}, schedule={self.schedule!r})"
