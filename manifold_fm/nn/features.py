"""Input features for the MLP: Fourier encodings of a point before the first layer.

Why: a plain MLP on the ambient coordinates of S^2 (or on raw torsion angles) is biased
towards smooth, low-frequency fields (spectral bias), so it cannot place the sharp modes
that dense point clouds such as volcano or RNA backbones need within a CPU budget. A
Fourier encoding of the input (NeRF: Mildenhall et al. 2020; Tancik et al. 2020) exposes
high frequencies to the first layer and lets the same width fit them. The encoding only
changes what the network reads; the output is projected onto the tangent space by
:class:`manifold_fm.nn.TangentModel` as before, so the field stays tangent.

Kinds (``x`` is the flattened point, shape ``(n, d)``):

* ``none``: ``x``.
* ``octaves``: ``[x, sin(2^k pi x), cos(2^k pi x)]`` for ``k < octaves`` (NeRF), for
  embedded coordinates in [-1, 1] such as the unit sphere's.
* ``harmonics``: ``[cos(k x), sin(k x)]`` for ``k = 1..harmonics``, for angles: every
  feature is 2 pi-periodic, so the field is continuous across the torus seam.
* ``random``: ``[x, sin(B x), cos(B x)]`` with ``B`` of shape ``(n_random, d)`` drawn once
  from N(0, scale^2) with ``seed`` (random Fourier features), stored as a buffer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from manifold_fm.errors import ManifoldFMError

__all__ = ["FEATURE_KINDS", "FeatureConfigError", "FeatureInput", "FourierFeatures"]

FEATURE_KINDS = ("none", "octaves", "harmonics", "random")


class FeatureConfigError(ManifoldFMError, ValueError):
    """An input-feature setting that cannot build an encoding (names the key and value)."""


class FourierFeatures(nn.Module):
    """Fixed (not learned) Fourier encoding ``(n, d) -> (n, out_dim)`` of one ``kind``.

    Args:
        kind: one of :data:`FEATURE_KINDS`.
        in_dim: ``d``, the size of a flattened point.
        octaves: number of octaves of ``octaves`` (frequencies 2^k pi, k < octaves).
        harmonics: highest harmonic of ``harmonics``.
        n_random: number of random frequencies of ``random``.
        scale: standard deviation of the random frequencies.
        seed: seed of the random frequencies.
    """

    def __init__(
        self,
        kind: str,
        in_dim: int,
        *,
        octaves: int = 8,
        harmonics: int = 4,
        n_random: int = 64,
        scale: float = 4.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if kind not in FEATURE_KINDS:
            raise FeatureConfigError(f"features = {kind!r}: choose one of {list(FEATURE_KINDS)}")
        for key, val in (
            ("in_dim", in_dim),
            ("octaves", octaves),
            ("harmonics", harmonics),
            ("n_random", n_random),
        ):
            if int(val) < 1:
                raise FeatureConfigError(f"features = {kind!r}: {key} must be >= 1, got {val}")
        if not (math.isfinite(scale) and scale > 0):
            raise FeatureConfigError(f"features = {kind!r}: scale must be > 0, got {scale}")
        self.kind, self.in_dim = kind, int(in_dim)
        if kind == "octaves":
            freqs = math.pi * 2.0 ** torch.arange(octaves, dtype=torch.float64)
            self.register_buffer("freqs", freqs.float())
        elif kind == "harmonics":
            self.register_buffer("freqs", torch.arange(1, harmonics + 1, dtype=torch.float32))
        elif kind == "random":
            gen = torch.Generator().manual_seed(int(seed))
            b = torch.randn(n_random, in_dim, generator=gen, dtype=torch.float64) * scale
            self.register_buffer("freqs", b.float())

    @property
    def out_dim(self) -> int:
        """Size of the encoding of one point."""
        d = self.in_dim
        if self.kind == "none":
            return d
        if self.kind == "random":
            return d + 2 * self.freqs.shape[0]
        k = self.freqs.shape[0]
        return 2 * k * d if self.kind == "harmonics" else d + 2 * k * d

    def forward(self, x: Tensor) -> Tensor:
        """Encoding of ``x`` (n, d): shape (n, out_dim), dtype of ``x``."""
        if self.kind == "none":
            return x
        f = self.freqs.to(x.dtype)
        if self.kind == "random":
            ang = x @ f.T  # (n, n_random)
            return torch.cat([x, torch.sin(ang), torch.cos(ang)], -1)
        ang = (x.unsqueeze(-1) * f).flatten(-2)  # (n, d * k)
        if self.kind == "harmonics":
            return torch.cat([torch.cos(ang), torch.sin(ang)], -1)
        return torch.cat([x, torch.sin(ang), torch.cos(ang)], -1)


class FeatureInput(nn.Module):
    """``net(features(x.flatten), t)``: a network that reads an encoded point."""

    def __init__(self, features: FourierFeatures, net: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.net = net

    def forward(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        return self.net(self.features(x.reshape(x.shape[0], -1)), t, **cond)
