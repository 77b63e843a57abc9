"""Building blocks of :class:`manifold_fm.nn.unet.network.UNet`: residual, attention, resampling.

Kept apart from the network's wiring so each block can be read (and tested) on its own.
Every block maps ``(n, C, H, W)`` to ``(n, C', H', W')`` with only convolutions, group
norms and reshapes (``reshape``, never ``view``), so channels-last inputs work and bf16
autocast keeps the group norms in float32 (torch's autocast policy for ``group_norm``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["AttentionBlock", "Downsample", "ResBlock", "Upsample", "group_norm", "zero_init"]


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    g = max(d for d in range(1, min(groups, channels) + 1) if channels % d == 0)
    return nn.GroupNorm(g, channels)


def zero_init(module: nn.Module) -> nn.Module:
    """Set a layer's weights and bias to zero: a residual branch then starts as identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """h = skip(x) + conv(act(norm(conv(act(norm(x))) + W emb))).

    Args:
        c_in, c_out: input and output channels.
        emb_dim: size of the time (+ class) embedding ``emb`` of shape ``(n, emb_dim)``.
        groups: group-norm groups.
        dropout: dropout before the second convolution.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = group_norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = group_norm(c_out, groups)
        self.drop = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb)).to(h.dtype)[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the H*W positions, added residually.

    Uses ``scaled_dot_product_attention`` (fused kernels on CUDA, bf16-safe: softmax in
    float32 inside the kernel). ``heads`` must divide the channel count.
    """

    def __init__(self, channels: int, groups: int, heads: int = 4) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"AttentionBlock: heads={heads} must divide channels={channels}")
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        n, c, hgt, wid = x.shape
        qkv = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, hgt * wid)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (n, heads, L, c/heads)
        a = F.scaled_dot_product_attention(q, k, v)
        a = a.transpose(-1, -2).reshape(n, c, hgt, wid)
        return x + self.out(a)


class Downsample(nn.Module):
    """Stride-2 3x3 convolution: (H, W) -> (ceil(H/2), ceil(W/2))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour resize to ``size`` then a 3x3 convolution (odd sizes work)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, size: torch.Size | tuple[int, int]) -> Tensor:
        return self.conv(F.interpolate(x, size=tuple(size), mode="nearest"))
