"""Baselines and sample statistics shared by the text and sequence benchmarks.

Both discrete benchmarks compare a CTMC model with an autoregressive
model of the same architecture (``SequenceTransformer(causal=True)``) trained for the same
budget (process CPU seconds), and score samples with n-gram Jensen-Shannon divergences and
single-site / pair-correlation Pearson r. One implementation of each, here (the budgeted
training loops live in benchmarks._discrete_fit and are re-exported).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks._discrete_fit import FitReport, fit_ar, fit_ctmc
from discrete_fm.transformer import SequenceTransformer

__all__ = [
    "ARModel",
    "FitReport",
    "connected_correlations",
    "fit_ar",
    "fit_ctmc",
    "ngram_js_bits",
    "pearson",
    "sample_entropy_bits",
    "site_frequencies",
]


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


def _ngrams(seqs: list[str] | Tensor, n: int) -> Counter:
    c: Counter = Counter()
    rows = seqs.tolist() if isinstance(seqs, Tensor) else seqs
    for s in rows:
        s = tuple(s)
        c.update(s[i : i + n] for i in range(len(s) - n + 1))
    return c


def ngram_js_bits(a, b, n: int) -> float:
    """Jensen-Shannon divergence (bits, in [0, 1]) of the n-gram distributions of a and b.

    JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2, over n-grams counted within
    each sequence (rows of a long tensor or strings). Its square root is the JS distance.
    """
    ca, cb = _ngrams(a, n), _ngrams(b, n)
    keys = list(set(ca) | set(cb))
    p = np.array([ca[k] for k in keys], dtype=np.float64)
    q = np.array([cb[k] for k in keys], dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(x):
        nz = x > 0
        return float((x[nz] * np.log2(x[nz] / m[nz])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def sample_entropy_bits(x: Tensor, vocab: int) -> float:
    """Mean over sequences of the unigram entropy (bits) of each sequence."""
    counts = F.one_hot(x, vocab).double().sum(1)
    p = counts / counts.sum(-1, keepdim=True)
    return float(torch.where(p > 0, -p * p.log2(), 0.0).sum(-1).mean())


def site_frequencies(x: Tensor, q: int, pseudocount: float = 0.0) -> Tensor:
    """f_i(a), shape (L, q), float64, with an optional pseudocount per symbol."""
    counts = F.one_hot(x, q).double().sum(0) + pseudocount
    return counts / counts.sum(-1, keepdim=True)


def connected_correlations(x: Tensor, q: int) -> Tensor:
    """C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b) for all i < j and all a, b, flattened."""
    n, L = x.shape
    oh = F.one_hot(x, q).double().reshape(n, L * q)
    fij = (oh.T @ oh / n).reshape(L, q, L, q)
    fi = oh.mean(0).reshape(L, q)
    c = fij - fi[:, :, None, None] * fi[None, None, :, :]
    iu = torch.triu_indices(L, L, offset=1)
    return c[iu[0], :, iu[1], :].flatten()


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two flat tensors."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))
