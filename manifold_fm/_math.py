"""Numerically safe elementary functions shared by the closed-form geometry.

Each helper has finite values *and* finite gradients at the points where the naive formula
divides by zero (norm at 0, sin(x)/x at 0, ...).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["safe_norm", "safe_sqrt", "sinc", "sphere_log_area", "wrap_angle"]


def safe_sqrt(sq: Tensor) -> Tensor:
    """sqrt(max(sq, 0)) whose gradient at sq <= 0 is 0 instead of inf / NaN."""
    pos = sq > 0
    return torch.where(pos, torch.where(pos, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))


def safe_norm(v: Tensor, dim: int | tuple[int, ...] = -1, keepdim: bool = False) -> Tensor:
    """Euclidean norm whose gradient at v = 0 is 0 instead of NaN."""
    return safe_sqrt((v * v).sum(dim=dim, keepdim=keepdim))


def sinc(x: Tensor) -> Tensor:
    """sin(x) / x with value 1 and derivative 0 at x = 0 (unnormalised sinc).

    For a tensor that records gradients, |x| < 1e-2 takes the series
    1 - x^2/6 + x^4/120 - x^6/5040 (truncation < 1e-21), so derivatives of every order
    are finite at 0 (torch.sinc's second derivative at 0 is NaN, which differentiating a
    divergence, i.e. a derivative of a derivative, would hit).
    """
    if not x.requires_grad:
        return torch.sinc(x / math.pi)
    small = x.abs() < 1e-2
    xs = torch.where(small, torch.ones_like(x), x)
    x2 = x * x
    series = 1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42))
    return torch.where(small, series, torch.sin(xs) / xs)


def wrap_angle(x: Tensor) -> Tensor:
    """Map angles to [-pi, pi): wrap(x) = ((x + pi) mod 2 pi) - pi."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def sphere_log_area(d: int) -> float:
    """log of the area of the unit sphere S^d in R^{d+1}: log(2 pi^{(d+1)/2} / Gamma((d+1)/2))."""
    return math.log(2.0) + 0.5 * (d + 1) * math.log(math.pi) - math.lgamma(0.5 * (d + 1))
