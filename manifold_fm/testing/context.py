"""Shared inputs of one check_space run: seeded point pairs, random tangents, tolerances.

Every property reads its inputs from one :class:`Ctx`, so a seed reproduces the whole run.
The Monte Carlo properties draw their own larger float64 sample (``mc_sample``) from the
same generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.testing.report import FAILED, PASSED, PropertyResult

__all__ = ["Ctx", "flat_norm"]


def flat_norm(v: Tensor, ndim: int) -> Tensor:
    """Euclidean norm over the last ``ndim`` dims (``|v|`` when ndim = 0)."""
    return v.flatten(start_dim=v.dim() - ndim).norm(dim=-1) if ndim else v.abs()


class Ctx:
    """Inputs and helpers of one check run.

    Attributes:
        x0, x1: ``(n, *event_shape)`` point pairs from the prior; the last quarter of pairs
            are equal, the quarter before that a step of 1e-3 apart.
        t: ``(n,)`` times in [0.05, 0.95].
        base: base tolerance (1e-6 float64, 3e-4 float32, or ``atol``).
        mc: number of float64 samples of the Monte Carlo properties.
    """

    def __init__(
        self,
        space: ManifoldSpace,
        n: int,
        dtype: torch.dtype,
        seed: int,
        device: torch.device,
        atol: float | None,
    ) -> None:
        self.space, self.n, self.dtype, self.device = space, n, dtype, device
        self.g = torch.Generator(device=device).manual_seed(seed)
        f64 = dtype == torch.float64
        self.base = atol if atol is not None else (1e-6 if f64 else 3e-4)
        self.fd_h = 2e-4  # the difference quotient is taken in float64
        self.mc = max(1024, 16 * n)
        self.en = space.event_ndim
        self.tn = len(space.tangent_shape)
        kw = {"generator": self.g, "device": device, "dtype": dtype}
        self.x0 = space.sample_prior(n, **kw)
        x1 = space.sample_prior(n, **kw)
        q = max(n // 4, 1)
        x1[n - q :] = self.x0[n - q :]
        near = self.tangent(self.x0[n - 2 * q : n - q], 1e-3)
        x1[n - 2 * q : n - q] = space.expmap(self.x0[n - 2 * q : n - q], near)
        self.x1 = x1
        self.t = 0.05 + 0.9 * torch.rand(n, generator=self.g, device=device, dtype=dtype)
        self._mc: Tensor | None = None

    def rand(self, shape, dtype: torch.dtype | None = None) -> Tensor:
        """Standard normal tensor from the run's generator."""
        dtype = self.dtype if dtype is None else dtype
        return torch.randn(shape, generator=self.g, device=self.device, dtype=dtype)

    def tangent(self, x: Tensor, scale: float) -> Tensor:
        """Random tangent vectors at ``x`` (projected Gaussians), shape batch + tangent_shape."""
        v = self.rand(self.space.batch_shape(x) + self.space.tangent_shape, x.dtype)
        return scale * self.space.proju(x, v)

    def unit_tangent(self, x: Tensor) -> Tensor:
        """Random tangent vectors of Riemannian norm 1 at ``x``."""
        v = self.tangent(x, 1.0)
        return v / self.pad_t(self.space.norm(x, v).clamp_min(1e-300))

    def pad_t(self, s: Tensor) -> Tensor:
        """Reshape a batch tensor to broadcast against tangent vectors."""
        return s.reshape(s.shape + (1,) * self.tn)

    def pad_x(self, s: Tensor) -> Tensor:
        """Reshape a batch tensor to broadcast against points."""
        return s.reshape(s.shape + (1,) * self.en)

    def mc_sample(self) -> Tensor:
        """``(mc, *event_shape)`` float64 prior samples, drawn once per run."""
        if self._mc is None:
            kw = {"generator": self.g, "device": self.device, "dtype": torch.float64}
            self._mc = self.space.sample_prior(self.mc, **kw)
        return self._mc

    def point_gap(self, a: Tensor, b: Tensor) -> Tensor:
        """dist(a, b) if the space has one, else the ambient norm of a - b."""
        try:
            return self.space.dist(a, b)
        except NotImplementedError:
            return flat_norm(a - b, self.en)

    def cut_radius(self, y: Tensor, scale: float) -> float:
        """Largest r such that geodesics from ``y`` stay minimising up to length r.

        Probes t -> exp_y(t u) along the tangent basis at y (the axes, where products and
        tori have their shortest cut distance) and 8 random unit directions u, at lengths
        t = scale * 2^(k/4), k = -8..16, and keeps the last t with dist(y, exp_y(t u)) = t
        (relative 1e-6) before the first that is shorter. ``math.inf`` when no probe fails.
        ``y``: one point ``event_shape``, float64.
        """
        sp = self.space
        basis = sp.tangent_basis(y.unsqueeze(0))[0]
        dirs = torch.cat([basis, self.unit_tangent(y.expand(8, *y.shape))], 0)
        ts = scale * 2.0 ** (torch.arange(-8, 17, dtype=torch.float64) / 4)
        k, m = dirs.shape[0], ts.shape[0]
        v = dirs.unsqueeze(1) * ts.reshape(1, m, *([1] * self.tn)).to(dirs)
        pts = sp.expmap(y.expand(k, m, *y.shape), v)
        ok = sp.dist(y.expand(k, m, *y.shape), pts) >= ts.to(y) * (1 - 1e-6)
        bad = (~ok).to(torch.int64).cumsum(1) > 0
        if not bool(bad.any()):
            return math.inf
        first_bad = torch.where(bad.any(1), bad.to(torch.int64).argmax(1), m)
        j = int(first_bad.min())
        return float(ts[j - 1]) if j > 0 else 0.0

    def result(self, name, err: Tensor, tol: float, inputs: dict[str, Tensor], reason=""):
        """PropertyResult from per-row errors ``err``: failed if any row is above ``tol``."""
        err = err.detach().reshape(-1)
        bad = ~torch.isfinite(err)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            worst = {k: v[i].detach().cpu() for k, v in inputs.items()}
            why = f"non-finite error at row {i}"
            return PropertyResult(name, FAILED, math.inf, tol, worst, why)
        i = int(err.argmax())
        e = float(err[i])
        worst = {k: v[i].detach().cpu() for k, v in inputs.items()}
        status = PASSED if e <= tol else FAILED
        return PropertyResult(name, status, e, tol, worst, reason)
