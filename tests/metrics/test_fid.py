"""Feature-space FID and KID on known answers, and the digit classifier that judges."""

from __future__ import annotations

import pytest
import torch

from manifold_fm.metrics.fid import (
    FEATURE_DIM,
    DigitClassifier,
    accuracy,
    features,
    fid,
    kid,
    train_classifier,
)


def test_fid_is_zero_on_itself_and_sees_a_mean_shift_and_a_scale():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = torch.zeros(8, dtype=torch.float64)
    shift[0] = 3.0
    assert fid(a + shift, a) == pytest.approx(9.0, rel=1e-6)  # |mu_a - mu_b|^2
    # N(0, I) vs N(0, 4 I) in d = 8: tr(I + 4I - 2 * 2I) = 8
    b = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    assert fid(2 * b, a) == pytest.approx(8.0, rel=0.1)


def test_kid_is_the_unbiased_mmd_of_the_cubic_kernel():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(7, 3, generator=g, dtype=torch.float64)
    b = torch.randn(5, 3, generator=g, dtype=torch.float64) + 0.5

    def k(x, y):
        return (float(x @ y) / 3 + 1) ** 3

    aa = sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    bb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    ab = sum(k(a[i], b[j]) for i in range(7) for j in range(5)) / (7 * 5)
    assert kid(a, b) == pytest.approx(aa + bb - 2 * ab, rel=1e-12)
    assert kid(a, b) == pytest.approx(kid(b, a), rel=1e-12)


def test_kid_is_near_zero_for_one_law_and_positive_for_a_shift():
    g = torch.Generator().manual_seed(2)
    a, b = (torch.randn(1500, 8, generator=g, dtype=torch.float64) for _ in range(2))
    shifted = b + 0.5
    assert abs(kid(a, b)) < 0.02
    assert kid(a, shifted) > 10 * abs(kid(a, b))


def test_kid_refuses_mismatched_or_tiny_sets():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="features must be"):
        kid(x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        kid(x, x[:1])


def test_the_classifier_trains_and_gives_features_of_its_width():
    g = torch.Generator().manual_seed(3)
    y = torch.arange(10).repeat(12)
    x = torch.rand(120, 1, 28, 28, generator=g) * 0.2 - 1
    x[torch.arange(120), 0, 2 * y + 4, 10:18] = 1.0  # a bar whose row is the label
    net, acc = train_classifier(x, y, x, y, epochs=2, seed=0)
    assert isinstance(net, DigitClassifier) and not net.training
    assert 0.0 <= acc <= 1.0 and acc == accuracy(net, x, y)
    f = features(net, x)
    assert f.shape == (120, FEATURE_DIM) and f.dtype == torch.float64
    assert bool((f >= 0).all())  # after ReLU
