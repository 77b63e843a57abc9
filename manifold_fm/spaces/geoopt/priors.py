"""Default priors of :class:`~manifold_fm.spaces.geoopt.space.GeooptSpace`, exact densities.

Each prior is a :class:`~manifold_fm.priors.Prior` (``sample(n, *, generator, device,
dtype)`` and ``log_prob(x)``); densities are with respect to the manifold's **Riemannian
volume** (the one of geoopt's metric), so they can be used by the likelihood code directly.

* :class:`StiefelUniform` -- Haar measure on V_k(R^n) = {X in R^{n x k}: X^T X = I}.
  Sample: QR of a Gaussian matrix with the signs of diag(R) moved into Q.
  With the canonical metric, V_k(R^n) -> S^{n-1} (first column) is a Riemannian submersion
  with fibre V_{k-1}(R^{n-1}), so log Vol = sum_{i=n-k+1}^{n} log(2 pi^{i/2} / Gamma(i/2)).
  The embedded (Euclidean) metric doubles the squared length of the k(k-1)/2 "X A"
  directions (A skew: |X A|_F^2 = |A|_F^2 = 2 sum_{i<j} a_ij^2), so its volume is larger
  by 2^{k(k-1)/4} (e.g. O(2): two circles of length 2 pi sqrt 2, volume 4 sqrt(2) pi).
* :class:`PoincareWrappedNormal` -- wrapped normal at the origin of the Poincare ball of
  curvature -c (c > 0), or of geoopt's flat stereographic model (c = 0). Draw
  w ~ N(0, sigma^2 I_d) in orthonormal tangent coordinates at 0; geoopt's metric at 0 is
  lambda_0^2 = 4 times the Euclidean one, so the ambient tangent vector is u = w / 2 and
  x = expmap0(u). With r = dist(0, x) = |w| (the Jacobian of exp_0 in polar coordinates is
  (sinh(sqrt(c) r) / (sqrt(c) r))^(d-1), 1 when c = 0):
  log p(x) = log N(w; 0, sigma^2 I) - (d - 1) log(sinh(sqrt(c) r) / (sqrt(c) r)).
* :class:`SPDWrappedNormal` -- wrapped normal at the identity of SPD(n) with the
  affine-invariant metric <U, V>_X = tr(X^-1 U X^-1 V) (geoopt's 'AIM'; at X = I this is the
  Frobenius product). w ~ N(0, sigma^2 I_m), m = n(n+1)/2, are orthonormal coordinates of a
  symmetric U (diagonal entries, and off-diagonal pairs (E_ij + E_ji)/sqrt 2); X = expm(U).
  With mu the eigenvalues of log X (so |w| = |log X|_F):
  log p(X) = log N(w) - sum_{i<j} log(sinh(|mu_i - mu_j| / 2) / (|mu_i - mu_j| / 2)).
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

None of them imports geoopt: each takes the manifold object (or its maps) it samples on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from manifold_fm._math import safe_norm, sphere_log_area
from manifold_fm.priors import Prior

__all__ = [
    "LorentzWrappedNormal",
    "PoincareWrappedNormal",
    "ProductPrior",
    "SPDWrappedNormal",
    "ScaledPrior",
    "SphereUniform",
    "StandardGaussian",
    "StereographicUniform",
    "StiefelUniform",
    "check_sigma",
    "gaussian_log_norm",
    "log_sinhc",
    "stiefel_log_volume",
]


def log_sinhc(a: Tensor) -> Tensor:
    """log(sinh(a) / a) for a >= 0, finite (value and gradient) at 0 and for large a.

    Small a: a^2/6 - a^4/180 + a^6/2835 - a^8/37800; otherwise
    a + log(-expm1(-2a)) - log(2a).
    """
    a = a.abs()
    small = a < 0.1
    a_big = torch.where(small, torch.ones_like(a), a)
    big = a_big + torch.log(-torch.expm1(-2 * a_big)) - torch.log(2 * a_big)
    a2 = a * a
    series = a2 * (1 / 6 + a2 * (-1 / 180 + a2 * (1 / 2835 - a2 / 37800)))
    return torch.where(small, series, big)


def stiefel_log_volume(n: int, k: int, canonical: bool = False) -> float:
    """log Vol V_k(R^n) = sum_{i=n-k+1}^{n} log(2 pi^{i/2} / Gamma(i/2)) (+ k(k-1)/4 log 2).

    The sum is the canonical-metric volume; the embedded Euclidean metric adds the term in
    brackets (``canonical=False``).
    """
    if not (isinstance(n, int) and isinstance(k, int) and 1 <= k <= n):
        raise ValueError(f"Stiefel V_k(R^n) needs integers 1 <= k <= n, got n={n!r}, k={k!r}")
    logv = sum(
        math.log(2.0) + 0.5 * i * math.log(math.pi) - math.lgamma(0.5 * i)
        for i in range(n - k + 1, n + 1)
    )
    if not canonical:
        logv += 0.25 * k * (k - 1) * math.log(2.0)
    return logv


def gaussian_log_norm(sq: Tensor, dim: int, sigma: float) -> Tensor:
    """log N(w; 0, sigma^2 I_dim) given sq = |w|^2."""
    return -0.5 * sq / sigma**2 - 0.5 * dim * math.log(2 * math.pi * sigma**2)


def check_sigma(sigma: float, name: str) -> float:
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"{name}: sigma must be a positive finite number, got {sigma!r}")
    return float(sigma)


class StiefelUniform:
    """Haar (uniform) distribution on V_k(R^n), points of shape ``(n, k)``.

    Args:
        n, k: matrix shape, 1 <= k <= n.
        canonical: whether densities refer to geoopt's canonical metric (True) or the
            embedded Euclidean one (False).
    """

    def __init__(self, n: int, k: int, canonical: bool = False) -> None:
        self.n, self.k, self.canonical = n, k, bool(canonical)
        self.log_volume = stiefel_log_volume(n, k, self.canonical)

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """Q of the QR of a (num, n, k) Gaussian, columns signed so diag(R) > 0."""
        g = torch.randn((num, self.n, self.k), generator=generator, device=device, dtype=dtype)
        q, r = torch.linalg.qr(g)
        sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
        sign = torch.where(sign == 0, torch.ones_like(sign), sign)
        return q * sign.unsqueeze(-2)

    def log_prob(self, x: Tensor) -> Tensor:
        """-log Vol, shape ``x.shape[:-2]``."""
        return torch.full(x.shape[:-2], -self.log_volume, device=x.device, dtype=x.dtype)

    def __repr__(self) -> str:
        return f"StiefelUniform(n={self.n}, k={self.k}, canonical={self.canonical})"


class PoincareWrappedNormal:
    """Wrapped normal at the origin of a geoopt Poincare ball (curvature -c <= 0), ``(d,)``.

    Args:
        ball: a ``geoopt.Stereographic`` with k <= 0 (``PoincareBall``, or k = 0: flat).
        d: dimension of the ball.
        sigma: standard deviation in orthonormal tangent coordinates at 0.
    """

    def __init__(self, ball, d: int, sigma: float = 1.0) -> None:
        c = -float(ball.k)
        if not c >= 0:
            raise ValueError(f"PoincareWrappedNormal needs curvature k <= 0, got k={-c}")
        self.ball, self.d, self.c = ball, int(d), c
        self.sigma = check_sigma(sigma, "PoincareWrappedNormal")

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """x = expmap0(w / lambda_0) with w ~ N(0, sigma^2 I_d), lambda_0 = 2."""
        w = self.sigma * torch.randn((num, self.d), generator=generator, device=device, dtype=dtype)
        return self.ball.expmap0(0.5 * w)

    def log_prob(self, x: Tensor) -> Tensor:
        """log N(w) - (d-1) log(sinh(sqrt(c) r)/(sqrt(c) r)), r = dist(0, x) = |w|.

        r = 2 artanh(sqrt(c) |x|) / sqrt(c), with c = -ball.k as geoopt stores it (a float32
        parameter: PoincareBall(c=1.0) has c = 0.99999996).
        """
        if self.c == 0:  # flat: r = 2 |x|, no Jacobian
            r = 2 * x.norm(dim=-1)
            return gaussian_log_norm(r * r, self.d, self.sigma)
        sc = math.sqrt(self.c)
        z = (sc * x.norm(dim=-1)).clamp_max(1 - torch.finfo(x.dtype).eps)
        r = 2 * torch.atanh(z) / sc
        return gaussian_log_norm(r * r, self.d, self.sigma) - (self.d - 1) * log_sinhc(sc * r)

    def __repr__(self) -> str:
        return f"PoincareWrappedNormal(d={self.d}, c={self.c:g}, sigma={self.sigma:g})"


class SPDWrappedNormal:
    """Wrapped normal at the identity of SPD(n) (affine-invariant metric), points ``(n, n)``.

    Args:
        n: matrix size.
        sigma: standard deviation in orthonormal coordinates of the symmetric matrices.
    """

    def __init__(self, n: int, sigma: float = 1.0) -> None:
        if not (isinstance(n, int) and n >= 1):
            raise ValueError(f"SPDWrappedNormal: n must be an int >= 1, got {n!r}")
        self.n = n
        self.m = n * (n + 1) // 2
        self.sigma = check_sigma(sigma, "SPDWrappedNormal")

    def coords_to_sym(self, w: Tensor) -> Tensor:
        """Symmetric matrices from orthonormal coordinates: ``(..., m) -> (..., n, n)``."""
        n = self.n
        iu = torch.triu_indices(n, n, offset=1, device=w.device)
        u = torch.zeros((*w.shape[:-1], n, n), device=w.device, dtype=w.dtype)
        idx = torch.arange(n, device=w.device)
        u[..., idx, idx] = w[..., :n]
        off = w[..., n:] / math.sqrt(2.0)
        u[..., iu[0], iu[1]] = off
        u[..., iu[1], iu[0]] = off
        return u

    def sample(self, num: int, *, generator=None, device=None, dtype=None) -> Tensor:
        """X = expm(U) with U's orthonormal coordinates w ~ N(0, sigma^2 I_m)."""
        w = self.sigma * torch.randn((num, self.m), generator=generator, device=device, dtype=dtype)
        mu, q = torch.linalg.eigh(self.coords_to_sym(w))
        x = (q * torch.exp(mu).unsqueeze(-2)) @ q.transpose(-1, -2)
        return 0.5 * (x + x.transpose(-1, -2))

    def log_prob(self, x: Tensor) -> Tensor:
        """log N(|log X|_F) - sum_{i<j} log sinhc(|mu_i - mu_j| / 2), shape ``x.shape[:-2]``."""
        lam = torch.linalg.eigvalsh(0.5 * (x + x.transpose(-1, -2)))
        mu = torch.log(lam.clamp_min(torch.finfo(x.dtype).tiny))
        iu = torch.triu_indices(self.n, self.n, offset=1, device=x.device)
        gaps = (mu[..., iu[0]] - mu[..., iu[1]]).abs() / 2
        return gaussian_log_norm((mu * mu).sum(-1), self.m, self.sigma) - log_sinhc(gaps).sum(-1)

    def __repr__(self) -> str:
        return f"SPDWrappedNormal(n={self.n}, sigma={self.sigma:g})"


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
