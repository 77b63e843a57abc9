"""The NELBO against the exact NLL on an enumerable toy (V = 3, L = 4, 81 states).

The model is the exact posterior p(x1^i | x_t) of a random Potts joint, so the exact NLL
-log p(x) of every test sequence is known by enumeration. Per sequence the difference
d = NELBO_estimate(x) - (-log p(x)) is then paired (no data noise), and:

* mask source, k-form: E[d] = 0 exactly (any-order chain rule), so mean(d) lies within
  3 standard errors of 0;
* uniform source, t-form: E[d] >= 0 (a bound, loose by construction: the uniform source
  carries no information about which positions are already right);
* the value of the ``ce`` training loss (sum over masked positions of -log p, t ~ U) is
  NOT the NELBO: with kappa_t = t it weights mask ratio r = 1 - t by r instead of
  uniformly, and lands below the NLL -- the deliberately wrong estimator these checks
  must reject.
"""

from __future__ import annotations

import math

import pytest
import torch
from discrete_toy import PottsToy

from discrete_fm import CTMCSpace, elbo

V, L, N = 3, 4, 4000
BITS = L * math.log(2)  # nats per sequence -> bits per token


@pytest.fixture(scope="module")
def toy():
    return PottsToy(vocab=V, length=L, strength=1.5, seed=0)


@pytest.fixture(scope="module")
def data(toy):
    g = torch.Generator().manual_seed(1)
    x1 = toy.sample(N, g)
    nll_nats = -toy.p[toy.index(x1)].log()
    return x1, nll_nats


def _mean_and_stderr(d: torch.Tensor) -> tuple[float, float]:
    return float(d.mean()), float(d.std() / math.sqrt(d.numel()))


def _ce_loss_value(toy, x1: torch.Tensor, n_t: int, g: torch.Generator) -> torch.Tensor:
    """Per-sequence mean over n_t stratified t of the ``ce`` training loss (sum reduction)."""
    sp = CTMCSpace(V, L, "mask", loss="ce", reduction="sum")
    model = toy.oracle(sp)
    shift = torch.rand(x1.shape[0], generator=g, dtype=torch.float64)
    acc = torch.zeros(x1.shape[0], dtype=torch.float64)
    for j in range(n_t):
        t = ((j + shift) / n_t).float()
        s = sp.path(sp.sample_prior(x1.shape[0]), x1, t, generator=g)
        acc += sp.loss(model(s.x_t, s.t), s).double()
    return acc / n_t


def _within(d: torch.Tensor, n_se: float = 3.0) -> bool:
    m, se = _mean_and_stderr(d)
    return abs(m) <= n_se * se


def test_k_form_nelbo_equals_the_exact_nll(toy, data):
    x1, nll = data
    sp = CTMCSpace(V, L, "mask")
    g = torch.Generator().manual_seed(2)
    res = elbo(toy.oracle(sp), sp, x1, n_t=4, estimator="k", generator=g)
    d = (res.nats - nll) / BITS
    m, se = _mean_and_stderr(d)
    assert se < 0.01  # enough samples for the check to mean something
    assert _within(d), f"NELBO - NLL = {m:+.4f} +- {se:.4f} bits/token"


def test_t_form_nelbo_is_unbiased_too(toy, data):
    x1, nll = data
    sp = CTMCSpace(V, L, "mask")
    g = torch.Generator().manual_seed(3)
    res = elbo(toy.oracle(sp), sp, x1, n_t=4, estimator="t", generator=g)
    assert _within((res.nats - nll) / BITS)


def test_uniform_source_bound_is_above_the_nll(toy, data):
    x1, nll = data
    sp = CTMCSpace(V, L, "uniform")
    g = torch.Generator().manual_seed(4)
    res = elbo(toy.oracle(sp), sp, x1, n_t=4, generator=g)
    m, se = _mean_and_stderr((res.nats - nll) / BITS)
    assert m >= -3 * se
    assert m > 3 * se  # loose by construction, and clearly so on this toy


def test_ce_loss_value_is_not_the_nelbo(toy, data):
    """The wrong estimator (the ``ce`` loss's value) fails both checks above."""
    x1, nll = data
    g = torch.Generator().manual_seed(5)
    ce = _ce_loss_value(toy, x1, n_t=4, g=g)
    d = (ce - nll) / BITS
    m, se = _mean_and_stderr(d)
    assert not _within(d)
    assert m < -3 * se  # below the NLL: read as a bound it would claim too much


def test_exact_nll_is_the_toy_entropy(toy, data):
    """The enumeration itself: mean -log2 p(x) over draws matches the entropy H."""
    _, nll = data
    m, se = _mean_and_stderr(nll / BITS)
    assert abs(m - toy.entropy_bits / L) <= 4 * se
