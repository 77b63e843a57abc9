"""The autoregressive baseline of the text and sequence benchmarks.

Both discrete benchmarks compare a CTMC model with an autoregressive model of the same
architecture (``SequenceTransformer(causal=True)``) trained for the same budget (process
CPU seconds; the loop is :func:`benchmarks.discrete.fit.fit_ar`). Samples of both are
scored with :mod:`discrete_fm.metrics` (n-gram Jensen-Shannon divergences, single-site and
pair-correlation Pearson r).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from discrete_fm.transformer import SequenceTransformer

__all__ = ["ARModel"]


class ARModel(nn.Module):
    """p(x) = prod_i p(x_i | x_<i) with a causal SequenceTransformer; BOS id = V."""

    def __init__(self, vocab: int, length: int, **kw) -> None:
        super().__init__()
        self.V = vocab
        self.net = SequenceTransformer(
            vocab + 1, vocab, length, causal=True, time_conditioning=False, **kw
        )

    def logits(self, x: Tensor) -> Tensor:
        """Next-token logits (n, L, V) for x (n, L): position i predicts x_i from x_<i."""
        bos = torch.full_like(x[:, :1], self.V)
        return self.net(torch.cat([bos, x[:, :-1]], 1))

    def nll_bits(self, x: Tensor, batch_size: int = 256) -> Tensor:
        """Exact per-sequence NLL in bits, float64, shape (n,)."""
        out = []
        with torch.no_grad():
            for lo in range(0, x.shape[0], batch_size):
                xb = x[lo : lo + batch_size]
                lp = torch.log_softmax(self.logits(xb).double(), -1)
                out.append(-lp.gather(-1, xb.unsqueeze(-1)).squeeze(-1).sum(-1) / math.log(2))
        return torch.cat(out)

    @torch.no_grad()
    def sample(self, n: int, length: int, generator: torch.Generator) -> Tensor:
        """Ancestral samples (n, length), temperature 1, float64 draws."""
        x = torch.zeros(n, 0, dtype=torch.long)
        for i in range(length):
            bos = torch.full((n, 1), self.V, dtype=torch.long)
            logits = self.net(torch.cat([bos, x], 1))[:, i]
            p = torch.softmax(logits.double(), -1)
            x = torch.cat([x, torch.multinomial(p, 1, generator=generator)], 1)
        return x
