"""Source distributions for :class:`~manifold_fm.spaces.geoopt.GeooptSpace` with exact densities.

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
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "PoincareWrappedNormal",
    "SPDWrappedNormal",
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
