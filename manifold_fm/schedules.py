"""Time schedules for probability paths.

Two families:

* :class:`KappaSchedule` -- a monotone map kappa: [0, 1] -> [0, 1], kappa(0)=0, kappa(1)=1,
  used by geodesic paths (x_t = exp_{x0}(kappa_t log_{x0} x1)) and by discrete mixture
  paths (a token equals x1 with probability kappa_t).
* :class:`AffineSchedule` -- the Gaussian/affine Euclidean path x_t = alpha_t x1 + sigma_t x0
  (cond-OT, VP, trigonometric). Any kappa schedule gives one through alpha=kappa,
  sigma=1-kappa.

Each schedule is called on a time tensor and returns values and time derivatives in
closed form, with the same shape as ``t``.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import Tensor

__all__ = [
    "AffineSchedule",
    "CondOTAffine",
    "Cosine",
    "KappaSchedule",
    "Linear",
    "Polynomial",
    "TrigAffine",
    "VPAffine",
    "as_affine_schedule",
    "as_kappa_schedule",
]


class KappaSchedule(abc.ABC):
    """kappa(t) with kappa(0) = 0, kappa(1) = 1 and kappa'(t) >= 0."""

    @abc.abstractmethod
    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(kappa(t), kappa'(t))``, each shaped like ``t``."""

    def rate(self, t: Tensor, eps: float = 1e-6) -> Tensor:
        """Hazard rate kappa'(t) / (1 - kappa(t)), with 1 - kappa clamped below by ``eps``."""
        k, dk = self(t)
        return dk / (1 - k).clamp_min(eps)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(KappaSchedule):
    """kappa(t) = t, kappa'(t) = 1 (the cond-OT / rectified-flow schedule)."""

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor]:
        return t, torch.ones_like(t)


class Polynomial(KappaSchedule):
    """kappa(t) = t^n, kappa'(t) = n t^(n-1) for n >= 1.

    n < 1 is refused: kappa'(0) would be infinite, and so would the path target at t = 0.
    """

    def __init__(self, n: float) -> None:
        if not (isinstance(n, (int, float)) and n >= 1 and math.isfinite(n)):
            raise ValueError(
                f"Polynomial: exponent n must be a finite number >= 1 (n < 1 makes kappa'(0) "
                f"infinite), got {n!r}"
            )
        self.n = float(n)

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor]:
        k = t.clamp_min(0) ** self.n
        dk = self.n * t.clamp_min(0) ** (self.n - 1) if self.n != 1 else torch.ones_like(t)
        return k, dk

    def __repr__(self) -> str:
        return f"Polynomial(n={self.n:g})"


class Cosine(KappaSchedule):
    """kappa(t) = (1 - cos(pi t)) / 2 = sin^2(pi t / 2), kappa'(t) = pi/2 sin(pi t)."""

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor]:
        return 0.5 * (1 - torch.cos(math.pi * t)), 0.5 * math.pi * torch.sin(math.pi * t)


_KAPPA = {"linear": Linear, "cosine": Cosine}


def as_kappa_schedule(schedule: KappaSchedule | str | None) -> KappaSchedule:
    """Resolve ``None`` (linear), a name (``"linear"``, ``"cosine"``, ``"poly3"``) or an object."""
    if schedule is None:
        return Linear()
    if isinstance(schedule, KappaSchedule):
        return schedule
    if isinstance(schedule, str):
        if schedule in _KAPPA:
            return _KAPPA[schedule]()
        if schedule.startswith("poly"):
            try:
                return Polynomial(float(schedule[4:]))
            except ValueError:
                pass
        raise ValueError(
            f"unknown kappa schedule {schedule!r}; use 'linear', 'cosine', 'polyN' "
            "(e.g. 'poly2') or a KappaSchedule instance"
        )
    raise ValueError(f"schedule must be a KappaSchedule or a name, got {type(schedule).__name__}")


class AffineSchedule(abc.ABC):
    """x_t = alpha_t x1 + sigma_t x0 with alpha_0 ~ 0, sigma_0 ~ 1, alpha_1 = 1, sigma_1 = 0."""

    @abc.abstractmethod
    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``(alpha_t, sigma_t, alpha'_t, sigma'_t)``, each shaped like ``t``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CondOTAffine(AffineSchedule):
    """alpha = kappa, sigma = 1 - kappa for any kappa schedule (default linear: cond-OT)."""

    def __init__(self, kappa: KappaSchedule | str | None = None) -> None:
        self.kappa = as_kappa_schedule(kappa)

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        k, dk = self.kappa(t)
        return k, 1 - k, dk, -dk

    def __repr__(self) -> str:
        return f"CondOTAffine({self.kappa!r})"


class TrigAffine(AffineSchedule):
    """alpha = sin(pi t / 2), sigma = cos(pi t / 2) (variance preserving, trigonometric)."""

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h = 0.5 * math.pi
        return torch.sin(h * t), torch.cos(h * t), h * torch.cos(h * t), -h * torch.sin(h * t)


class VPAffine(AffineSchedule):
    """Variance-preserving diffusion schedule (Song et al.), time reversed so data is t=1.

    T(t) = (1-t) beta_min + (1-t)^2 (beta_max - beta_min) / 2, alpha = exp(-T/2),
    sigma = sqrt(1 - alpha^2). sigma is clamped below by 1e-6 in sigma' (finite at t=1).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        if not 0 <= beta_min < beta_max:
            raise ValueError(f"VPAffine: need 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = beta_min, beta_max

    def __call__(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        s = 1 - t
        big = self.beta_max - self.beta_min
        T = s * self.beta_min + 0.5 * s**2 * big
        dT = -(self.beta_min + s * big)
        alpha = torch.exp(-0.5 * T)
        sigma = (1 - alpha**2).clamp_min(0).sqrt()
        dalpha = -0.5 * dT * alpha
        dsigma = -alpha * dalpha / sigma.clamp_min(1e-6)
        return alpha, sigma, dalpha, dsigma

    def __repr__(self) -> str:
        return f"VPAffine(beta_min={self.beta_min}, beta_max={self.beta_max})"


_AFFINE = {"condot": CondOTAffine, "cond-ot": CondOTAffine, "trig": TrigAffine, "vp": VPAffine}


def as_affine_schedule(schedule: AffineSchedule | KappaSchedule | str | None) -> AffineSchedule:
    """Resolve None (cond-OT), a name ('condot', 'vp', 'trig'), a kappa schedule or an object."""
    if schedule is None:
        return CondOTAffine()
    if isinstance(schedule, AffineSchedule):
        return schedule
    if isinstance(schedule, KappaSchedule):
        return CondOTAffine(schedule)
    if isinstance(schedule, str):
        key = schedule.lower()
        if key in _AFFINE:
            return _AFFINE[key]()
        return CondOTAffine(as_kappa_schedule(schedule))
    raise ValueError(f"schedule must be an AffineSchedule or name, got {type(schedule).__name__}")
