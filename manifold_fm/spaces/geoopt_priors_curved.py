"""Default priors of the constant-curvature and composite geoopt manifolds, exact densities.

Densities are w.r.t. the Riemannian volume of geoopt's metric (as in
:mod:`manifold_fm.spaces.geoopt_priors`); every class is a :class:`~manifold_fm.priors.Prior`.
None of them imports geoopt: each takes the manifold object it samples on.

* :class:`SphereUniform` -- uniform on geoopt's sphere {|x| = 1} in R^n, or on its
  intersection with a subspace (geoopt's ``intersection`` / ``complement``): projx of a
  standard Gaussian (the projection onto a subspace of an isotropic Gaussian is isotropic
  there, so its direction is uniform). log p = -log Area(S^dim),
  Area(S^m) = 2 pi^((m+1)/2) / Gamma((m+1)/2).
* :class:`StereographicUniform` -- uniform on geoopt's stereographic model of curvature
  k > 0 (``SphereProjection``): R^d with metric (2 / (1 + k |x|^2))^2 |dx|^2, isometric to
  the sphere of radius R = 1/sqrt(k) minus a point. With y uniform on the unit S^d in
  R^(d+1), x = y_{1..d} / ((1 + y_{d+1}) sqrt(k)) (stereographic projection from -e_{d+1},
  which pulls R^2 times the round metric back to geoopt's). log p = -log(R^d Area(S^d)).
* :class:`LorentzWrappedNormal` -- wrapped normal at the origin o = (sqrt(K), 0, ..., 0) of
  geoopt's hyperboloid {<x, x>_L = -K} in R^(d+1), curvature -1/K. w ~ N(0, sigma^2 I_d)
  are orthonormal coordinates of the tangent vector u = (0, w) at o (<u, u>_L = |w|^2);
  x = expmap0(u). With r = dist(o, x) = |w| = sqrt(K) asinh(|x_{1..d}| / sqrt(K)) (this
  form is well conditioned at small r, unlike arcosh(x_0 / sqrt(K))) and the Jacobian of
  exp_o for curvature -1/K, (sinh(r / sqrt K) / (r / sqrt K))^(d-1):
  log p(x) = log N(w; 0, sigma^2 I) - (d - 1) log(sinh(r / sqrt K) / (r / sqrt K)).
* :class:`StandardGaussian` -- N(0, I) on geoopt's ``Euclidean`` (flat metric).
* :class:`ProductPrior` -- independent parts on a ``ProductManifold``'s flat points:
  log p(x) = sum_i log p_i(x_i), x_i the i-th slice reshaped to the part's shape.
* :class:`ScaledPrior` -- a prior of a manifold M carried to M with its metric scaled by
  s^2 (geoopt's ``Scaled``: distances times s). The same points; the volume form is s^dim
  times M's, so log p_scaled = log p_M - dim log s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from manifold_fm._math import safe_norm, sphere_log_area
from manifold_fm.priors import Prior
from manifold_fm.spaces.geoopt_priors import check_sigma, gaussian_log_norm, log_sinhc

__all__ = [
    "LorentzWrappedNormal",
    "ProductPrior",
    "ScaledPrior",
    "SphereUniform",
    "StandardGaussian",
    "StereographicUniform",
]


def _const(x: Tensor, event_ndim: int, value: float) -> Tensor:
    """A constant log density over the batch dims of ``x``."""
    return torch.full(x.shape[: x.dim() - event_ndim], value, device=x.device, dtype=x.dtype)


class SphereUniform:
    """Uniform distribution on geoopt's (sub)sphere of intrinsic dimension ``dim``, ``(n,)``.

    Args:
        sphere: the sphere's maps (``projx`` projects onto its subspace, normalises).
        n: ambient dimension; dim: intrinsic dimension (n - 1 without a subspace).
    """

    def __init__(self, sphere, n: int, dim: int) -> None:
        self.sphere, self.n, self.dim = sphere, int(n), int(dim)
        self.log_volume = sphere_log_area(self.dim)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """projx(g) with g ~ N(0, I_n)."""
        g = torch.randn((num, self.n), generator=generator, device=device, dtype=dtype)
        return self.sphere.projx(g)

    def log_prob(self, x: Tensor) -> Tensor:
        """-log Area(S^dim), shape ``x.shape[:-1]``."""
        return _const(x, 1, -self.log_volume)

    def __repr__(self) -> str:
        return f"SphereUniform(n={self.n}, dim={self.dim})"


class StereographicUniform:
    """Uniform distribution on geoopt's stereographic sphere model (k > 0), points ``(d,)``.

    Args:
        k: the (positive) curvature; d: dimension.
    """

    def __init__(self, k: float, d: int) -> None:
        if not (math.isfinite(k) and k > 0):
            raise ValueError(f"StereographicUniform needs curvature k > 0, got k={k}")
        self.k, self.d = float(k), int(d)
        self.log_volume = sphere_log_area(self.d) - 0.5 * self.d * math.log(self.k)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """Stereographic projection of a uniform point of the unit S^d, scaled by 1/sqrt(k).

        y' / (1 + y_last) is evaluated as y' (1 - y_last) / |y'|^2 where y_last < 0 (the
        same number without the cancellation in 1 + y_last).
        """
        g = torch.randn((num, self.d + 1), generator=generator, device=device, dtype=dtype)
        y = g / safe_norm(g, keepdim=True)
        head, last = y[..., :-1], y[..., -1:]
        sq = (head * head).sum(-1, keepdim=True).clamp_min(torch.finfo(y.dtype).tiny)
        x = torch.where(last >= 0, head / (1 + last), head * (1 - last) / sq)
        return x / math.sqrt(self.k)

    def log_prob(self, x: Tensor) -> Tensor:
        """-log(k^(-d/2) Area(S^d)), shape ``x.shape[:-1]``."""
        return _const(x, 1, -self.log_volume)

    def __repr__(self) -> str:
        return f"StereographicUniform(k={self.k:g}, d={self.d})"


class LorentzWrappedNormal:
    """Wrapped normal at the origin of a geoopt ``Lorentz`` hyperboloid, points ``(d + 1,)``.

    Args:
        lorentz: the hyperboloid's maps (``k`` is K, curvature -1/K, and ``expmap0``).
        d: intrinsic dimension; sigma: standard deviation in tangent coordinates at o.
    """

    def __init__(self, lorentz, d: int, sigma: float = 1.0) -> None:
        self.lorentz, self.d = lorentz, int(d)
        self.big_k = float(lorentz.k)
        self.sigma = check_sigma(sigma, "LorentzWrappedNormal")

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """x = expmap0((0, w)), w ~ N(0, sigma^2 I_d)."""
        w = self.sigma * torch.randn((num, self.d), generator=generator, device=device, dtype=dtype)
        return self.lorentz.expmap0(torch.cat([torch.zeros_like(w[:, :1]), w], dim=-1))

    def log_prob(self, x: Tensor) -> Tensor:
        """log N(w) - (d-1) log sinhc(r / sqrt K), r = sqrt K asinh(|x_{1..d}| / sqrt K)."""
        sk = math.sqrt(self.big_k)
        r = sk * torch.asinh(x[..., 1:].norm(dim=-1) / sk)
        return gaussian_log_norm(r * r, self.d, self.sigma) - (self.d - 1) * log_sinhc(r / sk)

    def __repr__(self) -> str:
        return f"LorentzWrappedNormal(d={self.d}, K={self.big_k:g}, sigma={self.sigma:g})"


class StandardGaussian:
    """N(0, I) on points of shape ``shape`` (geoopt's flat ``Euclidean``)."""

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.size = math.prod(self.shape)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """Standard normal entries, shape ``(num, *shape)``."""
        return torch.randn((num, *self.shape), generator=generator, device=device, dtype=dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        """-|x|^2 / 2 - (size / 2) log(2 pi) over the event dims."""
        flat = x.flatten(start_dim=x.dim() - len(self.shape))
        return gaussian_log_norm((flat * flat).sum(-1), self.size, 1.0)

    def __repr__(self) -> str:
        return f"StandardGaussian(shape={self.shape})"


class ProductPrior:
    """Independent priors on the parts of a flattened product point ``(sum_i size_i,)``.

    Args:
        parts: ``(prior, shape)`` per part, in the order of the product's slices.
    """

    def __init__(self, parts: Sequence[tuple[Prior, Sequence[int]]]) -> None:
        self.parts = [(p, tuple(int(s) for s in shape)) for p, shape in parts]
        self.slices = []
        pos = 0
        for _, shape in self.parts:
            self.slices.append(slice(pos, pos + math.prod(shape)))
            pos += math.prod(shape)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """The parts drawn in order from the one generator, flattened and concatenated."""
        kw = {"generator": generator, "device": device, "dtype": dtype}
        return torch.cat([p.sample(num, **kw).reshape(num, -1) for p, _ in self.parts], dim=-1)

    def log_prob(self, x: Tensor) -> Tensor:
        """sum_i log p_i(x_i), shape ``x.shape[:-1]``."""
        batch = x.shape[:-1]
        return sum(
            p.log_prob(x[..., sl].reshape(*batch, *shape))
            for (p, shape), sl in zip(self.parts, self.slices, strict=True)
        )

    def __repr__(self) -> str:
        return f"ProductPrior({[p for p, _ in self.parts]!r})"


class ScaledPrior:
    """``base`` on a manifold whose metric is scaled by ``scale^2`` (dimension ``dim``)."""

    def __init__(self, base: Prior, scale: float, dim: int) -> None:
        self.base, self.scale, self.dim = base, float(scale), int(dim)
        self.offset = -self.dim * math.log(self.scale)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """The base prior's points (scaling the metric does not move points)."""
        return self.base.sample(num, generator=generator, device=device, dtype=dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p_base(x) - dim log(scale)."""
        return self.base.log_prob(x) + self.offset

    def __repr__(self) -> str:
        return f"ScaledPrior({self.base!r}, scale={self.scale:g})"
