"""Sample statistics of token sequences: n-gram divergence, entropy, site and pair statistics.

Likelihood bounds say how well a model scores data; these say how its *samples* look
next to held-out data, without a model of their own:

* :func:`ngram_js_bits`: Jensen-Shannon divergence of the n-gram distributions of two
  sets of sequences, JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in bits
  (0 for equal distributions, 1 for disjoint supports);
* :func:`sample_entropy_bits`: mean over sequences of the entropy of each sequence's own
  unigram distribution (a collapse to repeated tokens shows as a low value);
* :func:`site_frequencies`: f_i(a), the frequency of symbol a at position i of an
  alignment, optionally with a pseudocount;
* :func:`connected_correlations`: C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b) for all
  positions i < j and symbols a, b (the pair statistics a model of an alignment must
  reproduce);
* :func:`pearson`: Pearson r of two flat tensors, e.g. of the C_ij of samples and of a
  test split.

Inputs are long tensors (n, L) of token ids (strings are accepted by the n-gram counts);
results are Python floats or float64 tensors.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "connected_correlations",
    "ngram_counts",
    "ngram_js_bits",
    "pearson",
    "sample_entropy_bits",
    "site_frequencies",
]


def ngram_counts(seqs: list[str] | Tensor, n: int) -> Counter:
    """Counts of the n-grams (tuples of n tokens) within each sequence, summed over rows.

    ``seqs``: rows of a long tensor (n_seq, L) or strings; n-grams never span two rows.
    """
    c: Counter = Counter()
    rows = seqs.tolist() if isinstance(seqs, Tensor) else seqs
    for s in rows:
        s = tuple(s)
        c.update(s[i : i + n] for i in range(len(s) - n + 1))
    return c


def ngram_js_bits(a: list[str] | Tensor, b: list[str] | Tensor, n: int) -> float:
    """Jensen-Shannon divergence (bits, in [0, 1]) of the n-gram distributions of a and b.

    JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2, over n-grams counted within
    each sequence (rows of a long tensor or strings). Its square root is the JS distance.
    """
    ca, cb = ngram_counts(a, n), ngram_counts(b, n)
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
    """Mean over sequences of the unigram entropy (bits) of each sequence.

    H(x) = -sum_a p_x(a) log2 p_x(a), p_x(a) the share of token a in the sequence x (n, L).
    """
    counts = F.one_hot(x, vocab).double().sum(1)
    p = counts / counts.sum(-1, keepdim=True)
    return float(torch.where(p > 0, -p * p.log2(), 0.0).sum(-1).mean())


def site_frequencies(x: Tensor, q: int, pseudocount: float = 0.0) -> Tensor:
    """f_i(a), shape (L, q), float64, with an optional pseudocount per symbol.

    f_i(a) = (#{rows with x_i = a} + pseudocount) / (n + q pseudocount) for x (n, L).
    """
    counts = F.one_hot(x, q).double().sum(0) + pseudocount
    return counts / counts.sum(-1, keepdim=True)


def connected_correlations(x: Tensor, q: int) -> Tensor:
    """C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b) for all i < j and all a, b, flattened.

    f_ij(a, b) is the share of rows of x (n, L) with x_i = a and x_j = b. The result has
    L (L - 1) / 2 * q^2 entries, float64, pairs (i, j) in row-major upper-triangle order.
    """
    n, L = x.shape
    oh = F.one_hot(x, q).double().reshape(n, L * q)
    fij = (oh.T @ oh / n).reshape(L, q, L, q)
    fi = oh.mean(0).reshape(L, q)
    c = fij - fi[:, :, None, None] * fi[None, None, :, :]
    iu = torch.triu_indices(L, L, offset=1)
    return c[iu[0], :, iu[1], :].flatten()


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two flat tensors (float64; 0 when either is constant)."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))
