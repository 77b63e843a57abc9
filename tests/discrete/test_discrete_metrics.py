"""Sample statistics of token sequences (discrete_fm.metrics) on known answers."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_fm.metrics import (
    connected_correlations,
    ngram_counts,
    ngram_js_bits,
    pearson,
    sample_entropy_bits,
    site_frequencies,
)


def test_ngram_counts_stay_within_each_sequence():
    c = ngram_counts(torch.tensor([[0, 1, 2], [2, 0, 1]]), 2)
    assert c == {(0, 1): 2, (1, 2): 1, (2, 0): 1}
    assert ngram_counts(["ab", "ba"], 2) == {("a", "b"): 1, ("b", "a"): 1}


def test_ngram_js_is_zero_on_itself_one_on_disjoint_sets_and_symmetric():
    a = torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0]])
    assert ngram_js_bits(a, a, 1) == pytest.approx(0.0, abs=1e-12)
    assert ngram_js_bits(a, a + 2, 2) == pytest.approx(1.0, abs=1e-12)
    b = torch.tensor([[0, 0, 0, 1]])
    # unigrams P = (1/2, 1/2), Q = (3/4, 1/4), M = (5/8, 3/8)
    p, q, m = (0.5, 0.5), (0.75, 0.25), (0.625, 0.375)
    kl = lambda x: sum(xi * math.log2(xi / mi) for xi, mi in zip(x, m))  # noqa: E731
    assert ngram_js_bits(a, b, 1) == pytest.approx(0.5 * kl(p) + 0.5 * kl(q), rel=1e-12)
    assert ngram_js_bits(a, b, 1) == pytest.approx(ngram_js_bits(b, a, 1), rel=1e-12)


def test_sample_entropy_of_constant_and_uniform_sequences():
    x = torch.tensor([[3, 3, 3, 3], [0, 1, 2, 3]])
    # per sequence: 0 bits and log2(4) = 2 bits; the mean of the two
    assert sample_entropy_bits(x, 4) == pytest.approx(1.0, abs=1e-12)


def test_site_frequencies_with_and_without_pseudocount():
    x = torch.tensor([[0, 1], [0, 2], [1, 2]])
    f = site_frequencies(x, 3)
    assert f.dtype == torch.float64 and f.shape == (2, 3)
    torch.testing.assert_close(f[0], torch.tensor([2 / 3, 1 / 3, 0.0], dtype=torch.float64))
    g = site_frequencies(x, 3, pseudocount=1.0)
    torch.testing.assert_close(g[1], torch.tensor([1 / 6, 2 / 6, 3 / 6], dtype=torch.float64))


def test_connected_correlations_vanish_for_independent_sites_and_see_coupled_ones():
    # columns 0 and 1 independent (every pair once), column 2 a copy of column 0
    x = torch.tensor([[0, 0, 0], [0, 1, 0], [1, 0, 1], [1, 1, 1]])
    c = connected_correlations(x, 2).reshape(3, 2, 2)  # pairs (0, 1), (0, 2), (1, 2)
    torch.testing.assert_close(c[0], torch.zeros(2, 2, dtype=torch.float64))
    torch.testing.assert_close(c[2], torch.zeros(2, 2, dtype=torch.float64))
    # f_02(a, b) = 1/2 [a = b], f_0 = f_2 = 1/2: C = 1/4 on the diagonal, -1/4 off it
    torch.testing.assert_close(
        c[1], torch.tensor([[0.25, -0.25], [-0.25, 0.25]], dtype=torch.float64)
    )


def test_pearson_of_affine_copies_and_of_a_constant():
    a = torch.tensor([1.0, 2.0, 4.0, 7.0])
    assert pearson(a, 3 * a + 1) == pytest.approx(1.0, abs=1e-12)
    assert pearson(a, -a) == pytest.approx(-1.0, abs=1e-12)
    assert pearson(a, torch.ones(4)) == 0.0
