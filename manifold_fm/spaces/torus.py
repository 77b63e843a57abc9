"""The flat torus T^d = [0, 2 pi)^d of angles with the flat metric.

exp_x(v) = (x + v) mod 2 pi; log_x(y) = wrap(y - x) in [-pi, pi). At a difference of
exactly pi the two geodesics tie; ``wrap`` deterministically picks -pi. The geodesic
velocity is the constant log_{x0}(x1), so the target is bounded by kappa' * pi * sqrt(d).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm._math import safe_norm, wrap_angle
from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["FlatTorus"]

TWO_PI = 2 * math.pi


class FlatTorus(ManifoldSpace):
    """Angles in [0, 2 pi)^d with the uniform prior (density (2 pi)^-d).

    Args:
        d: number of angles.
        schedule: kappa schedule of the geodesic path (default linear).
    """

    def __init__(self, d: int = 2, schedule: KappaSchedule | str | None = None) -> None:
        super().__init__(schedule)
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"FlatTorus: number of angles d must be an int >= 1, got {d!r}")
        self.dim = d
        self.event_shape = torch.Size((d,))

    @property
    def volume(self) -> float:
        return TWO_PI**self.dim

    def sample_prior(self, n, *, generator=None, device=None, dtype=None, mask=None) -> Tensor:
        self.check_prior_mask(n, mask)  # no maskable positions: only None passes
        u = torch.rand((n, self.dim), generator=generator, device=device, dtype=dtype)
        return self.projx(TWO_PI * u)

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        self.check_mask(x, mask)
        val = -self.dim * math.log(TWO_PI)
        return torch.full(x.shape[:-1], val, device=x.device, dtype=x.dtype)

    def projx(self, x: Tensor) -> Tensor:
        r = torch.remainder(x, TWO_PI)
        return torch.where(r >= TWO_PI, r - TWO_PI, r)  # rounding can give exactly 2 pi

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return v

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        return self.projx(x + v)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        return wrap_angle(y - x)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        return (u * v).sum(-1)

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        return safe_norm(self.logmap(x, y))

    def point_error(self, x: Tensor) -> Tensor:
        """Distance of each angle outside [0, 2 pi] (summed), 0 for valid points."""
        return (torch.relu(-x) + torch.relu(x - TWO_PI)).sum(-1)

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Standard basis e_i of R^d, shape ``batch_shape + (d, d)``."""
        eye = torch.eye(self.dim, device=x.device, dtype=x.dtype)
        return eye.expand(*x.shape[:-1], self.dim, self.dim)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """gamma(s) = (x0 + s v) mod 2 pi, gamma'(s) = v with v = wrap(x1 - x0)."""
        v = self.logmap(x0, x1)
        return self.projx(x0 + s.unsqueeze(-1) * v), v

    def __repr__(self) -> str:
        return f"FlatTorus(d={self.dim}, schedule={self.schedule!r})"
