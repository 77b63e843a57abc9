"""Euclidean space R^shape with affine Gaussian paths (cond-OT, VP, trigonometric).

Works for data of any event shape (vectors, images). Prior: N(0, prior_std^2 I).
Path: x_t = alpha_t x1 + sigma_t x0, target u_t = alpha'_t x1 + sigma'_t x0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm._math import safe_norm
from manifold_fm.schedules import (
    AffineSchedule,
    CondOTAffine,
    KappaSchedule,
    Linear,
    as_affine_schedule,
)
from manifold_fm.spaces.base import ManifoldSpace, PathSample, pad_time, time_like

__all__ = ["Euclidean"]


class Euclidean(ManifoldSpace):
    """R^{event_shape} with the flat metric.

    Args:
        shape: an int d (points in R^d) or an event shape such as (3, 32, 32).
        schedule: affine schedule ('condot' default, 'vp', 'trig'), or a kappa schedule
            (used as alpha = kappa, sigma = 1 - kappa).
        prior_std: standard deviation of the Gaussian prior.
    """

    def __init__(
        self,
        shape: int | tuple[int, ...] | torch.Size,
        schedule: AffineSchedule | KappaSchedule | str | None = None,
        prior_std: float = 1.0,
    ) -> None:
        self.affine = as_affine_schedule(schedule)
        super().__init__(self.affine.kappa if isinstance(self.affine, CondOTAffine) else None)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape or any((not isinstance(s, int)) or s <= 0 for s in shape):
            raise ValueError(f"Euclidean: shape must be positive ints, got {shape!r}")
        if not prior_std > 0:
            raise ValueError(f"Euclidean: prior_std must be > 0, got {prior_std}")
        self.event_shape = torch.Size(shape)
        self.dim = math.prod(shape)
        self.prior_std = float(prior_std)
        self._linear = isinstance(self.affine, CondOTAffine) and isinstance(
            self.affine.kappa, Linear
        )

    def _sum(self, v: Tensor) -> Tensor:
        return v.flatten(start_dim=v.dim() - self.event_ndim).sum(-1)

    def sample_prior(self, n, *, generator=None, device=None, dtype=None, mask=None) -> Tensor:
        self.check_prior_mask(n, mask)  # no maskable positions: only None passes
        return self.prior_std * torch.randn(
            (n, *self.event_shape), generator=generator, device=device, dtype=dtype
        )

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        self.check_mask(x, mask)
        s2 = self.prior_std**2
        return -0.5 * self._sum(x * x) / s2 - 0.5 * self.dim * math.log(2 * math.pi * s2)

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        return x + v

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        return y - x

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return v

    def projx(self, x: Tensor) -> Tensor:
        return x

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        return self._sum(u * v)

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        return safe_norm((y - x).flatten(start_dim=x.dim() - self.event_ndim))

    def point_error(self, x: Tensor) -> Tensor:
        return torch.zeros(self.batch_shape(x), device=x.device, dtype=x.dtype)

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Standard basis e_i, shape ``batch_shape + (dim,) + event_shape``."""
        eye = torch.eye(self.dim, device=x.device, dtype=x.dtype).reshape(
            self.dim, *self.event_shape
        )
        return eye.expand(*self.batch_shape(x), self.dim, *self.event_shape)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """Straight line: gamma(s) = x0 + s (x1 - x0), gamma'(s) = x1 - x0."""
        v = x1 - x0
        return x0 + pad_time(s, self.event_ndim) * v, v

    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: Tensor | None = None,
    ) -> PathSample:
        """Affine path x_t = alpha_t x1 + sigma_t x0, u_t = alpha'_t x1 + sigma'_t x0.

        Deterministic given (x0, x1, t): ``generator`` is accepted and unused.
        """
        self.check_mask(x1, mask)
        t = time_like(t, self.batch_shape(x1), x1)
        if self._linear:  # cond-OT fast path: x_t = lerp(x0, x1, t), u_t = x1 - x0
            x_t = torch.lerp(x0, x1, pad_time(t, self.event_ndim).to(x0.dtype))
            return PathSample(x_t=x_t, target=x1 - x0, t=t, x0=x0, x1=x1)
        a, s, da, ds = (pad_time(c, self.event_ndim) for c in self.affine(t))
        return PathSample(x_t=a * x1 + s * x0, target=da * x1 + ds * x0, t=t, x0=x0, x1=x1)

    # -- data prediction on the affine path ------------------------------------------
    def _x1_coefficients(self, t: Tensor | float, x: Tensor) -> tuple[Tensor, Tensor]:
        """(c0, c1) with u_t = c0 x_t + c1 x1: c0 = sigma'/sigma, c1 = alpha' - alpha c0."""
        a, s, da, ds = self.affine(time_like(t, self.batch_shape(x), x))
        c0 = ds / s.clamp_min(self.eps_t)
        return c0, da - a * c0

    def x1_to_velocity(self, x_t: Tensor, x1_hat: Tensor, t: Tensor | float) -> Tensor:
        """u = c0(t) x_t + c1(t) x1_hat: the affine path's target with x1_hat for x1."""
        c0, c1 = (pad_time(c, self.event_ndim) for c in self._x1_coefficients(t, x_t))
        return c0 * x_t + c1 * x1_hat

    def x1_estimate(self, x_t: Tensor, output: Tensor, t: Tensor | float) -> Tensor:
        """x1_hat = (u - c0 x_t) / c1, the inverse of :meth:`x1_to_velocity`."""
        c0, c1 = self._x1_coefficients(t, x_t)
        c0, c1 = pad_time(c0, self.event_ndim), pad_time(c1.clamp_min(1e-6), self.event_ndim)
        return (output.to(x_t.dtype) - c0 * x_t) / c1

    def x1_loss_scale(self, t: Tensor, x: Tensor) -> Tensor:
        """1 / c1(t)^2: |u_hat - u_t|^2 = c1^2 |x1_hat - x1|^2 on the affine path."""
        c1 = self._x1_coefficients(t, x)[1].clamp_min(1e-6)
        return 1.0 / (c1 * c1)

    def __repr__(self) -> str:
        return f"Euclidean({tuple(self.event_shape)}, schedule={self.affine!r})"
