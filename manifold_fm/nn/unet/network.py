"""A compact time-conditioned UNet for image flow matching on ``Euclidean((C, H, W))``.

The network predicts the velocity v(x_t, t) with the shape of the image. Structure: a
3x3 stem, then per resolution level ``num_res_blocks`` :class:`ResBlock` s (time and class
embedding added inside each), a stride-2 downsample between levels, self-attention at the
lowest resolution (before and after a middle residual block), and the mirror-image
decoder with skip connections. Defaults (base 32, levels (1, 2, 2), one block per level,
about 1.5M parameters) suit 28x28 MNIST on a CPU; ``in_channels=3, image_size=32`` and
wider ``base_channels`` give the CIFAR-sized network.

Class conditioning for classifier-free guidance: with ``n_classes = K`` the embedding has
K + 1 rows, row K is the null class. ``label`` (n,) selects the class; rows where
``cond_drop`` (bool, (n,)) is True use the null class, and so does every row when no
``label`` is passed (the unconditional model).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from manifold_fm.nn.mlp import sinusoidal_embedding
from manifold_fm.nn.unet.blocks import (
    AttentionBlock,
    Downsample,
    ResBlock,
    Upsample,
    group_norm,
    zero_init,
)

__all__ = ["UNet"]


class UNet(nn.Module):
    """v(x, t, label) on images ``(n, C, H, W)`` -> ``(n, C_out, H, W)``.

    Args:
        in_channels: image channels C.
        out_channels: output channels (default ``in_channels``: a velocity).
        base_channels: channels of the first level; level i has ``base * mults[i]``.
        channel_mults: one multiplier per resolution level (len L: L - 1 downsamples).
        num_res_blocks: residual blocks per level in the encoder (decoder: one more).
        attn_heads: heads of the self-attention at the lowest resolution (0: none).
        groups: group-norm groups (reduced to a divisor of each channel count).
        dropout: dropout inside residual blocks.
        n_classes: number of classes K (None: no class input); adds the null class K.
        image_size: expected (H, W) or int; only checked, the network is size-agnostic.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int | None = None,
        base_channels: int = 32,
        channel_mults: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 1,
        attn_heads: int = 4,
        groups: int = 8,
        dropout: float = 0.0,
        n_classes: int | None = None,
        image_size: int | Sequence[int] | None = 28,
    ) -> None:
        super().__init__()
        sizes = {
            "in_channels": in_channels,
            "base_channels": base_channels,
            "num_res_blocks": num_res_blocks,
            "groups": groups,
        }
        for k, v in sizes.items():
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"UNet: {k} must be an int >= 1, got {v!r}")
        if not channel_mults or any(int(m) < 1 for m in channel_mults):
            raise ValueError(f"UNet: channel_mults must be ints >= 1, got {channel_mults!r}")
        if n_classes is not None and n_classes < 1:
            raise ValueError(f"UNet: n_classes must be >= 1 or None, got {n_classes!r}")
        if attn_heads < 0:
            raise ValueError(f"UNet: attn_heads must be >= 0, got {attn_heads!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels or in_channels
        self.image_size = (
            None
            if image_size is None
            else (image_size, image_size)
            if isinstance(image_size, int)
            else tuple(image_size)
        )
        self.n_classes = n_classes
        #: condition keywords the forward reads (none without a class embedding)
        self.cond_keys = ("label", "cond_drop") if n_classes else ()
        chans = [base_channels * int(m) for m in channel_mults]
        emb = 4 * base_channels
        self.time_dim = base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Embedding(n_classes + 1, emb) if n_classes else None
        self.stem = nn.Conv2d(in_channels, chans[0], 3, padding=1)

        self.down = nn.ModuleList()
        skips, c = [chans[0]], chans[0]
        for i, ch in enumerate(chans):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(c, ch, emb, groups, dropout))
                c = ch
                skips.append(c)
            if i < len(chans) - 1:
                self.down.append(Downsample(c))
                skips.append(c)
        attn = attn_heads > 0
        self.mid = nn.ModuleList(
            [
                AttentionBlock(c, groups, attn_heads) if attn else nn.Identity(),
                ResBlock(c, c, emb, groups, dropout),
                AttentionBlock(c, groups, attn_heads) if attn else nn.Identity(),
            ]
        )
        self.up = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), ch, emb, groups, dropout))
                c = ch
            if i > 0:
                self.up.append(Upsample(c))
        self.head = nn.Sequential(
            group_norm(c, groups),
            nn.SiLU(),
            zero_init(nn.Conv2d(c, self.out_channels, 3, padding=1)),
        )

    def _embedding(self, t: Tensor, n: int, label: Tensor | None, drop: Tensor | None) -> Tensor:
        """emb = MLP(sin(t)) + E[label] (null class where dropped or absent): (n, 4 base)."""
        tt = t.reshape(-1).expand(n) if t.numel() == 1 else t.reshape(n)
        w = self.time_mlp[0].weight  # the parameters' dtype (float32, float64 copies, bf16)
        e = self.time_mlp(sinusoidal_embedding(tt.float(), self.time_dim).to(w.dtype))
        if self.label is not None:
            null = torch.full((n,), self.n_classes, dtype=torch.long, device=e.device)
            lab = null if label is None else label.reshape(n).long()
            if drop is not None:
                lab = torch.where(drop.reshape(n).to(torch.bool), null, lab)
            e = e + self.label(lab)
        return e

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        label: Tensor | None = None,
        cond_drop: Tensor | None = None,
    ) -> Tensor:
        """``x``: (n, C, H, W); ``t``: (n,) or scalar in [0, 1]; ``label``: (n,) ints in
        [0, K); ``cond_drop``: (n,) bool. Returns (n, C_out, H, W)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet: x must have shape (n, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if label is not None and self.label is None:
            raise ValueError("UNet: got a label but was built without n_classes")
        n = x.shape[0]
        emb = self._embedding(t, n, label, cond_drop)
        h = self.stem(x)
        hs = [h]
        for block in self.down:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
            hs.append(h)
        for block in self.mid:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
        for block in self.up:
            if isinstance(block, ResBlock):
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = block(h, hs[-1].shape[-2:])
        return self.head(h).to(x.dtype)

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
