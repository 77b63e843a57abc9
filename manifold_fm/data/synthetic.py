"""Mixtures with a known density: ground truth for likelihood and benchmarks.

Each mixture is a :class:`~manifold_fm.priors.Prior`: an exact ``log_prob`` (w.r.t. the
space's Riemannian volume) and a seeded ``sample(n, *, generator, device, dtype)``; it also
has a Monte-Carlo ``entropy``; the gap between a model's test NLL
and the true entropy is the distance to the limit (it equals KL(p || q) in expectation).

* :class:`VMFMixture` on S^2 (von Mises-Fisher components),
* :class:`WrappedNormalMixture` on the flat torus T^d (diagonal wrapped normals),
* :class:`GaussianMixture` on R^d (isotropic components),
* :class:`IGSO3Mixture` on SO(3) (IGSO3 components at arbitrary centres).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from manifold_fm._math import safe_norm

__all__ = [
    "GaussianMixture",
    "IGSO3Mixture",
    "Mixture",
    "VMFMixture",
    "WrappedNormalMixture",
    "default_rd_mixture",
    "default_s2_mixture",
    "default_so3_mixture",
    "default_t2_mixture",
    "demo_mixture",
    "random_vmf_mixture_data",
]

TWO_PI = 2 * math.pi


def _weights(weights: Tensor | list[float] | None, k: int, ref: Tensor) -> Tensor:
    if weights is None:
        return torch.full((k,), 1.0 / k, dtype=ref.dtype, device=ref.device)
    w = torch.as_tensor(weights, dtype=ref.dtype, device=ref.device).flatten()
    if w.numel() != k or not bool((w > 0).all()):
        raise ValueError(f"mixture weights must be {k} positive numbers, got {w.tolist()}")
    return w / w.sum()


class Mixture:
    """Finite mixture sum_k w_k p_k with vectorised per-row component sampling.

    Subclasses implement ``component_log_prob(x) -> (n, K)`` and
    ``sample_components(idx, generator) -> (n, *event)`` for component indices ``idx``.
    """

    weights: Tensor

    @property
    def n_components(self) -> int:
        return self.weights.numel()

    def component_log_prob(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def sample_components(self, idx: Tensor, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) = logsumexp_k (log w_k + log p_k(x)), shape ``(n,)``."""
        w = self.weights.to(device=x.device, dtype=x.dtype)
        return torch.logsumexp(w.log() + self.component_log_prob(x), dim=-1)

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """``n`` i.i.d. points: component k ~ Cat(w), then x ~ p_k; ``(n, *event)``.

        Drawn on the CPU in the mixture's own dtype (so a seed gives the same points
        whatever is asked for), then moved to ``device`` / ``dtype`` (default: unchanged).
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        idx = torch.multinomial(self.weights, int(n), replacement=True, generator=generator)
        return self.sample_components(idx, generator).to(device=device, dtype=dtype)

    def entropy(self, n_mc: int = 100_000, generator: torch.Generator | None = None) -> float:
        """Monte-Carlo entropy H = -E[log p(x)] in nats (std error ~ std / sqrt(n_mc))."""
        return float(-self.log_prob(self.sample(n_mc, generator=generator)).mean())


class VMFMixture(Mixture):
    """Mixture of von Mises-Fisher distributions on S^2 in R^3.

    p_k(x) = kappa_k / (2 pi (1 - exp(-2 kappa_k))) * exp(kappa_k (<mu_k, x> - 1)),
    density w.r.t. area on the unit sphere.

    Args:
        mus: mean directions, shape ``(K, 3)`` (normalised here).
        kappas: concentrations > 0, shape ``(K,)``.
        weights: mixture weights (default uniform), shape ``(K,)``.
    """

    def __init__(self, mus, kappas, weights=None, dtype: torch.dtype = torch.float64) -> None:
        mus = torch.as_tensor(mus, dtype=dtype)
        if mus.dim() != 2 or mus.shape[1] != 3:
            raise ValueError(f"VMFMixture: mus must have shape (K, 3), got {tuple(mus.shape)}")
        self.mus = mus / safe_norm(mus, keepdim=True)
        self.kappas = torch.as_tensor(kappas, dtype=dtype).flatten()
        if self.kappas.numel() != mus.shape[0] or not bool((self.kappas > 0).all()):
            raise ValueError(f"VMFMixture: need {mus.shape[0]} kappas > 0, got {self.kappas}")
        self.weights = _weights(weights, mus.shape[0], self.mus)

    def component_log_prob(self, x: Tensor) -> Tensor:
        mu = self.mus.to(device=x.device, dtype=x.dtype)
        k = self.kappas.to(device=x.device, dtype=x.dtype)
        log_c = k.log() - math.log(TWO_PI) - torch.log1p(-torch.exp(-2 * k))
        return log_c + k * (x @ mu.T - 1)

    def sample_components(self, idx: Tensor, generator: torch.Generator | None) -> Tensor:
        """Inverse-CDF sample of w = <mu, x>, uniform azimuth in mu's tangent plane."""
        n = idx.numel()
        mu, k = self.mus[idx], self.kappas[idx]
        u = torch.rand(n, generator=generator, dtype=mu.dtype)
        w = 1 + torch.log(u + (1 - u) * torch.exp(-2 * k)) / k
        g = torch.randn(n, 3, generator=generator, dtype=mu.dtype)
        v = g - (g * mu).sum(-1, keepdim=True) * mu
        v = v / safe_norm(v, keepdim=True)
        x = w.unsqueeze(-1) * mu + (1 - w * w).clamp_min(0).sqrt().unsqueeze(-1) * v
        return x / safe_norm(x, keepdim=True)


class WrappedNormalMixture(Mixture):
    """Mixture of diagonal wrapped normals on the flat torus [0, 2 pi)^d.

    p_k(x) = prod_j sum_{m=-M..M} N(x_j + 2 pi m; mu_kj, sigma_kj^2); M = ``n_wrap``
    (the truncation error is below exp(-(2 M - 1)^2 pi^2 / (2 sigma^2)), negligible for
    sigma <= 2 with the default M = 3).

    Args:
        mus: means in [0, 2 pi), shape ``(K, d)``.
        sigmas: standard deviations > 0, shape ``(K, d)`` or ``(K,)``.
        weights: mixture weights (default uniform).
    """

    def __init__(
        self, mus, sigmas, weights=None, n_wrap: int = 3, dtype: torch.dtype = torch.float64
    ) -> None:
        self.mus = torch.remainder(torch.as_tensor(mus, dtype=dtype), TWO_PI)
        if self.mus.dim() != 2:
            raise ValueError(f"WrappedNormalMixture: mus must be (K, d), got {self.mus.shape}")
        sig = torch.as_tensor(sigmas, dtype=dtype)
        if sig.dim() == 1:
            sig = sig.unsqueeze(-1).expand_as(self.mus)
        if sig.shape != self.mus.shape or not bool((sig > 0).all()):
            raise ValueError(
                f"WrappedNormalMixture: sigmas must be > 0 with shape {tuple(self.mus.shape)} "
                f"or ({self.mus.shape[0]},), got {tuple(sig.shape)}"
            )
        self.sigmas = sig.contiguous()
        self.weights = _weights(weights, self.mus.shape[0], self.mus)
        self.n_wrap = int(n_wrap)

    def component_log_prob(self, x: Tensor) -> Tensor:
        mu = self.mus.to(device=x.device, dtype=x.dtype)
        sig = self.sigmas.to(device=x.device, dtype=x.dtype)
        m = torch.arange(-self.n_wrap, self.n_wrap + 1, device=x.device, dtype=x.dtype)
        diff = x[:, None, :, None] - mu[None, :, :, None] + TWO_PI * m  # (n, K, d, 2M+1)
        z = diff / sig[None, :, :, None]
        log_n = -0.5 * z * z - torch.log(sig)[None, :, :, None] - 0.5 * math.log(TWO_PI)
        return torch.logsumexp(log_n, dim=-1).sum(-1)

    def sample_components(self, idx: Tensor, generator: torch.Generator | None) -> Tensor:
        mu, sig = self.mus[idx], self.sigmas[idx]
        x = mu + sig * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        r = torch.remainder(x, TWO_PI)
        return torch.where(r >= TWO_PI, r - TWO_PI, r)


class GaussianMixture(Mixture):
    """Mixture of isotropic Gaussians N(mu_k, sigma_k^2 I) on R^d.

    Args:
        mus: means, shape ``(K, d)``.
        sigmas: standard deviations > 0, shape ``(K,)``.
        weights: mixture weights (default uniform).
    """

    def __init__(self, mus, sigmas, weights=None, dtype: torch.dtype = torch.float64) -> None:
        self.mus = torch.as_tensor(mus, dtype=dtype)
        if self.mus.dim() != 2:
            raise ValueError(f"GaussianMixture: mus must be (K, d), got {tuple(self.mus.shape)}")
        self.sigmas = torch.as_tensor(sigmas, dtype=dtype).flatten()
        if self.sigmas.numel() != self.mus.shape[0] or not bool((self.sigmas > 0).all()):
            raise ValueError(f"GaussianMixture: need {self.mus.shape[0]} sigmas > 0")
        self.weights = _weights(weights, self.mus.shape[0], self.mus)

    def component_log_prob(self, x: Tensor) -> Tensor:
        mu = self.mus.to(device=x.device, dtype=x.dtype)
        sig = self.sigmas.to(device=x.device, dtype=x.dtype)
        d = mu.shape[1]
        sq = ((x[:, None, :] - mu[None]) ** 2).sum(-1)
        return -0.5 * sq / sig**2 - d * torch.log(sig) - 0.5 * d * math.log(TWO_PI)

    def sample_components(self, idx: Tensor, generator: torch.Generator | None) -> Tensor:
        mu, sig = self.mus[idx], self.sigmas[idx]
        return mu + sig[:, None] * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)


def default_s2_mixture() -> VMFMixture:
    """The S^2 ground truth of the synthetic benchmark and the demo: 4 vMFs, kappa 8..40."""
    mus = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.3], [-0.5, -0.5, 0.7], [0.2, -0.3, -1.0]]
    return VMFMixture(mus, [40.0, 15.0, 8.0, 25.0], [0.3, 0.3, 0.2, 0.2])


def random_vmf_mixture_data(
    n: int, k: int, kappa: float, seed: int = 0
) -> tuple[Tensor, Tensor, VMFMixture]:
    """Draw ``n`` labelled points from an equal mixture of ``k`` vMFs on S^2.

    Means are ``k`` random directions (N(0, I_3), normalised), every kappa the same; all
    draws use one generator seeded with ``seed``. Returns ``(x (n, 3) float64 unit
    vectors, label (n,) long component index, the mixture)``.
    """
    if n < 1 or k < 1 or not kappa > 0:
        raise ValueError(f"vMF mixture data needs n >= 1, k >= 1, kappa > 0; got {n}, {k}, {kappa}")
    gen = torch.Generator().manual_seed(seed)
    mus = torch.randn(k, 3, generator=gen, dtype=torch.float64)
    mix = VMFMixture(mus, torch.full((k,), float(kappa), dtype=torch.float64))
    labels = torch.randint(0, k, (n,), generator=gen)
    return mix.sample_components(labels, gen), labels, mix


def default_t2_mixture() -> WrappedNormalMixture:
    """The T^2 ground truth: 3 wrapped normals, one straddling the 0 / 2 pi seam."""
    mus = [[1.0, 2.0], [4.0, 4.5], [6.0, 0.3]]
    sig = [[0.3, 0.5], [0.6, 0.3], [0.4, 0.4]]
    return WrappedNormalMixture(mus, sig, [0.4, 0.35, 0.25])


def default_rd_mixture(d: int = 2) -> GaussianMixture:
    """The R^d ground truth: 4 isotropic Gaussians on the corners of a square (first 2 axes)."""
    mus = torch.zeros(4, d, dtype=torch.float64)
    mus[:, :2] = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
    return GaussianMixture(mus, [0.5, 0.7, 0.5, 0.7])


class IGSO3Mixture(Mixture):
    """Mixture of IGSO3(sigma_k) distributions centred at rotations mu_k on SO(3).

    p_k(R) = f_{sigma_k}(angle(mu_k^T R)) / (8 pi^2), density w.r.t. the Riemannian volume
    of SO3 (total 8 pi^2); f is the IGSO3 series of :class:`manifold_fm.lie.igso3.IGSO3`
    (tabulated on a fine angle grid). Sampling: R = mu_k S with S ~ IGSO3(sigma_k).

    Args:
        mus: centres, rotation matrices of shape ``(K, 3, 3)``.
        sigmas: IGSO3 scales in [0.05, 50], shape ``(K,)``.
        weights: mixture weights (default uniform).
    """

    def __init__(self, mus, sigmas, weights=None, dtype: torch.dtype = torch.float64) -> None:
        from manifold_fm.lie.igso3 import IGSO3

        self.mus = torch.as_tensor(mus, dtype=dtype)
        if self.mus.dim() != 3 or self.mus.shape[1:] != (3, 3):
            raise ValueError(f"IGSO3Mixture: mus must be (K, 3, 3), got {tuple(self.mus.shape)}")
        sig = [float(s) for s in torch.as_tensor(sigmas).flatten()]
        if len(sig) != self.mus.shape[0]:
            raise ValueError(f"IGSO3Mixture: need {self.mus.shape[0]} sigmas, got {len(sig)}")
        self.components = [IGSO3(s) for s in sig]
        self.weights = _weights(weights, self.mus.shape[0], self.mus)

    def component_log_prob(self, x: Tensor) -> Tensor:
        mu = self.mus.to(device=x.device, dtype=x.dtype)
        rel = mu.transpose(-1, -2).unsqueeze(0) @ x.unsqueeze(1)  # (n, K, 3, 3): mu_k^T R
        # one batched table look-up per component (K is small)
        return torch.stack([c.log_prob(rel[:, k]) for k, c in enumerate(self.components)], dim=-1)

    def sample_components(self, idx: Tensor, generator: torch.Generator | None) -> Tensor:
        out = torch.empty(idx.numel(), 3, 3, dtype=self.mus.dtype)
        for k, c in enumerate(self.components):  # one vectorised draw per component
            rows = (idx == k).nonzero().flatten()
            if rows.numel():
                s = c.sample(rows.numel(), generator=generator, dtype=self.mus.dtype)
                out[rows] = self.mus[k] @ s
        return out


def default_so3_mixture() -> IGSO3Mixture:
    """The SO(3) ground truth: 3 IGSO3 components at fixed rotations, sigma 0.3..0.6."""
    from manifold_fm.lie.rotations import so3_exp

    axes = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.5], [-0.5, 1.5, -1.0]], dtype=torch.float64)
    return IGSO3Mixture(so3_exp(axes), [0.3, 0.5, 0.6], [0.4, 0.3, 0.3])


def demo_mixture() -> VMFMixture:
    """The target of ``mfm demo`` and of several benchmarks: five vMF components on S^2 with
    different concentrations (8 to 50) and weights, float64 parameters."""
    lat = torch.tensor([60.0, 10.0, -30.0, -5.0, 35.0])
    lon = torch.tensor([-40.0, 20.0, 100.0, -120.0, 150.0])
    la, lo = torch.deg2rad(lat), torch.deg2rad(lon)
    mus = torch.stack([la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()], -1)
    return VMFMixture(
        mus.double(),
        torch.tensor([30.0, 15.0, 50.0, 8.0, 25.0], dtype=torch.float64),
        torch.tensor([0.25, 0.2, 0.2, 0.15, 0.2], dtype=torch.float64),
    )
