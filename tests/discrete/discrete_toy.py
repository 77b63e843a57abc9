"""An enumerable toy for the discrete tests: a random pairwise (Potts) joint over V^L.

Gives the exact joint, its entropy and an oracle posterior p(x1^i | x_t) for both sources,
so samplers and the ELBO can be checked against exact answers.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from discrete_fm import CTMCSpace


class PottsToy:
    """p(x) proportional to exp(sum_i h_i(x_i) + sum_{i<j} J_ij(x_i, x_j)), all states listed."""

    def __init__(self, vocab: int = 4, length: int = 4, strength: float = 1.5, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.V, self.L = vocab, length
        self.states = torch.tensor(list(itertools.product(range(vocab), repeat=length)))
        h = torch.randn(length, vocab, generator=g, dtype=torch.float64)
        J = strength * torch.randn(length, length, vocab, vocab, generator=g, dtype=torch.float64)
        s = self.states
        energy = h[torch.arange(length), s].sum(-1)
        for i in range(length):
            for j in range(i + 1, length):
                energy = energy + J[i, j, s[:, i], s[:, j]]
        self.p = torch.softmax(energy, 0)
        self.onehot = torch.nn.functional.one_hot(s, vocab).double().reshape(len(s), -1)

    @property
    def entropy_bits(self) -> float:
        return float(-(self.p * self.p.log2()).sum())

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        idx = torch.multinomial(self.p, n, replacement=True, generator=generator)
        return self.states[idx]

    def index(self, x: Tensor) -> Tensor:
        """State index of rows x (n, L)."""
        base = self.V ** torch.arange(self.L - 1, -1, -1)
        return (x * base).sum(-1)

    def tv(self, x: Tensor) -> float:
        counts = torch.bincount(self.index(x), minlength=len(self.states)).double()
        return 0.5 * float((counts / counts.sum() - self.p).abs().sum())

    def oracle(self, space: CTMCSpace):
        """model(x_t, t) -> exact log p(x1^i | x_t) as logits (n, L, V)."""

        def model(x_t: Tensor, t: Tensor, **_) -> Tensor:
            s = self.states
            if space.source == "mask":
                ok = ((x_t[:, None, :] == space.vocab_size) | (x_t[:, None, :] == s)).all(-1)
                lik = ok.double()
            else:
                k, _ = space.schedule(t.double())
                k = k[:, None, None]
                eq = (x_t[:, None, :] == s).double()
                lik = (k * eq + (1 - k) / self.V).prod(-1)
            w = lik * self.p
            marg = (w @ self.onehot) / w.sum(-1, keepdim=True)
            return marg.reshape(-1, self.L, self.V).clamp_min(1e-300).log()

        return model


def tv_noise_bound(n_states: int, n: int) -> float:
    """Upper bound on E TV(empirical of n iid draws, truth): 0.5 sqrt(2 S / (pi n))."""
    return 0.5 * math.sqrt(2 * n_states / (math.pi * n))
