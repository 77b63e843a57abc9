"""A small pre-LN transformer over token sequences, with optional time conditioning.

Discrete flow matching (:class:`discrete_fm.CTMCSpace`) needs a
denoiser that maps tokens x_t (n, L) and times t (n,) to logits (n, L, V); the
autoregressive baseline of the text and sequence benchmarks uses the *same* network with
``causal=True``, so the comparison is architecture-matched.

Embeddings use the GPT-style N(0, 0.02) init for tokens and positions: with PyTorch's
default N(0, 1) token init a bidirectional denoiser sees an almost position-free bag of
tokens and stalls at the unigram level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from manifold_fm.nn.mlp import sinusoidal_embedding

if TYPE_CHECKING:
    from discrete_fm.space import CTMCSpace

__all__ = ["SequenceTransformer"]


class _Block(nn.Module):
    """x + attn(LN(x)); x + MLP(LN(x)); attention through scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )
        self.dropout = dropout

    def forward(self, x: Tensor, attn_mask: Tensor | None, causal: bool) -> Tensor:
        n, L, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, L, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))
        drop = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=drop, is_causal=causal and attn_mask is None
        )
        x = x + self.proj(a.transpose(1, 2).reshape(n, L, d))
        return x + self.mlp(self.ln2(x))


class SequenceTransformer(nn.Module):
    """Token transformer: logits = head(blocks(emb(x) + pos + time(t))).

    Args:
        in_vocab: number of input ids (V + 1 for the mask source or an AR BOS token).
        out_vocab: V, logits per position.
        length: maximum sequence length L (learned positions).
        dim, depth, heads, mlp_ratio, dropout: network size.
        causal: attend only to positions <= i (autoregressive baseline).
        time_conditioning: add an MLP embedding of t (needed for the uniform source;
            mask-source denoisers may ignore t).
        self_condition: accept ``self_cond``, a previous posterior estimate (n, L,
            out_vocab) of probabilities, added to the input as ``W p`` (W zero-initialised,
            so the untrained model ignores it); see ``TrainConfig.self_condition``.

    forward(x (n, L) long, t (n,) or None, mask (n, L) bool or None, self_cond (n, L, V)
    or None) -> (n, L, out_vocab). ``mask`` (True = real token) hides padded keys from
    attention.
    """

    def __init__(
        self,
        in_vocab: int,
        out_vocab: int,
        length: int,
        *,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        causal: bool = False,
        time_conditioning: bool = True,
        self_condition: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"SequenceTransformer: dim={dim} must be divisible by heads={heads}")
        self.length, self.causal, self.dim = length, causal, dim
        self.tok = nn.Embedding(in_vocab, dim)
        self.pos = nn.Parameter(torch.zeros(length, dim))
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        self.time = (
            nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
            if time_conditioning
            else None
        )
        self.self_cond = nn.Linear(out_vocab, dim, bias=False) if self_condition else None
        if self.self_cond is not None:
            nn.init.zeros_(self.self_cond.weight)
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_vocab)

    @classmethod
    def for_space(cls, space: CTMCSpace, **kwargs: Any) -> SequenceTransformer:
        """Size the network from a :class:`CTMCSpace` (input V+1 or V, output V)."""
        kwargs.setdefault("time_conditioning", space.source != "mask")
        return cls(space.input_vocab_size, space.vocab_size, space.length, **kwargs)

    def forward(
        self,
        x: Tensor,
        t: Tensor | None = None,
        mask: Tensor | None = None,
        self_cond: Tensor | None = None,
        **_: Tensor,
    ) -> Tensor:
        n, seq_len = x.shape
        if seq_len > self.length:
            raise ValueError(f"SequenceTransformer: length {seq_len} exceeds max {self.length}")
        h = self.tok(x.long()) + self.pos[:seq_len]
        if self_cond is not None:
            if self.self_cond is None:
                raise ValueError(
                    "SequenceTransformer: got self_cond but was built with self_condition=False"
                )
            want = (n, seq_len, self.self_cond.in_features)
            if tuple(self_cond.shape) != want:
                raise ValueError(
                    f"SequenceTransformer: self_cond must have shape {want}, got "
                    f"{tuple(self_cond.shape)}"
                )
            h = h + self.self_cond(self_cond.to(h.dtype))
        if self.time is not None:
            if t is None:
                raise ValueError("SequenceTransformer: time_conditioning=True needs t")
            t = torch.as_tensor(t, device=x.device, dtype=h.dtype).expand(n)
            h = h + self.time(sinusoidal_embedding(t, self.dim)).unsqueeze(1)
        attn = None
        if mask is not None:
            keys = mask.to(torch.bool)[:, None, None, :]  # (n, 1, 1, L)
            attn = keys
            L = seq_len
            if self.causal:
                tri = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
                attn = keys & tri
            attn = attn | torch.eye(L, dtype=torch.bool, device=x.device)  # never empty rows
        for blk in self.blocks:
            h = blk(h, attn, self.causal)
        return self.head(self.ln(h))
