"""Training-time distributions on [0, 1]: uniform, logit-normal and stratified.

* uniform:      t ~ U[0, 1)
* logit_normal: t = sigmoid(z), z ~ N(m, s^2)  (Esser et al. 2024; puts more weight on
  mid-path times)
* stratified:   t_i = (u + i / n) mod 1, one u ~ U[0, 1) per batch

Each sampler draws ``n`` times with the given generator on its device, shape ``(n,)``.
:data:`TIME_SAMPLERS` is the one table of names (config validation and the CLI read it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "TIME_SAMPLERS",
    "LogitNormalTime",
    "StratifiedTime",
    "UniformTime",
    "make_time_sampler",
]


@dataclass(frozen=True)
class UniformTime:
    """t ~ U[0, 1)."""

    def __call__(
        self, n: int, generator: torch.Generator, device: torch.device, dtype: torch.dtype
    ) -> Tensor:
        return torch.rand(n, generator=generator, device=device, dtype=dtype)


@dataclass(frozen=True)
class LogitNormalTime:
    """t = sigmoid(mean + std * N(0, 1))."""

    mean: float = 0.0
    std: float = 1.0

    def __call__(
        self, n: int, generator: torch.Generator, device: torch.device, dtype: torch.dtype
    ) -> Tensor:
        z = torch.randn(n, generator=generator, device=device, dtype=dtype)
        return torch.sigmoid(z * self.std + self.mean)


@dataclass(frozen=True)
class StratifiedTime:
    """Stratified (antithetic) times: t_i = (u + i / n) mod 1 with one u ~ U[0, 1).

    Each t_i is still U[0, 1) marginally, but the batch covers [0, 1) evenly, which lowers
    the variance of the loss estimate (MD4-style, useful for discrete ELBO weights).
    """

    def __call__(
        self, n: int, generator: torch.Generator, device: torch.device, dtype: torch.dtype
    ) -> Tensor:
        u = torch.rand(1, generator=generator, device=device, dtype=dtype)
        return torch.remainder(u + torch.arange(n, device=device, dtype=dtype) / n, 1.0)


TIME_SAMPLERS = {
    "uniform": UniformTime,
    "logit_normal": LogitNormalTime,
    "stratified": StratifiedTime,
}


def make_time_sampler(
    kind: str, mean: float = 0.0, std: float = 1.0
) -> UniformTime | LogitNormalTime | StratifiedTime:
    """Build the sampler named ``kind`` (a key of :data:`TIME_SAMPLERS`); ``mean`` and
    ``std`` are the logit-normal's m and s."""
    if kind not in TIME_SAMPLERS:
        raise ValueError(f"unknown time_sampling {kind!r}; choose one of {list(TIME_SAMPLERS)}")
    if kind == "logit_normal":
        return LogitNormalTime(mean, std)
    return TIME_SAMPLERS[kind]()
