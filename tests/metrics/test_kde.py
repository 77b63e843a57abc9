"""The kernel density baselines: normalised on S^2 and T^1, bandwidths = validation optimum."""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm.data.earth import latlon_to_xyz
from manifold_fm.metrics.kde import fit_kde, kde_log_density


@pytest.mark.parametrize("kappa", [2.0, 50.0, 400.0])
def test_vmf_kde_integrates_to_one_on_the_sphere(kappa):
    g = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(5, 3, generator=g, dtype=torch.float64))
    n_lat, n_lon = 720, 1440
    lat = (torch.arange(n_lat, dtype=torch.float64) + 0.5) / n_lat * 180 - 90
    lon = (torch.arange(n_lon, dtype=torch.float64) + 0.5) / n_lon * 360 - 180
    glat, glon = torch.meshgrid(lat, lon, indexing="ij")
    pts = latlon_to_xyz(torch.stack([glat.flatten(), glon.flatten()], -1))
    area = (math.pi / n_lat) * (2 * math.pi / n_lon) * torch.cos(glat.flatten() * math.pi / 180)
    total = float((kde_log_density("vmf", centres, pts, [kappa])[0].exp() * area).sum())
    assert abs(total - 1.0) < 1e-3


@pytest.mark.parametrize("kappa", [0.5, 10.0, 1000.0])
def test_von_mises_kde_integrates_to_one_on_the_circle(kappa):
    centres = torch.tensor([[0.1], [3.0], [6.2]], dtype=torch.float64)
    n = 200_000
    x = ((torch.arange(n, dtype=torch.float64) + 0.5) / n * 2 * math.pi)[:, None]
    total = (
        float(kde_log_density("von_mises", centres, x, [kappa])[0].exp().sum()) * 2 * math.pi / n
    )
    assert abs(total - 1.0) < 1e-6


def test_bandwidths_are_the_validation_optimum():
    g = torch.Generator().manual_seed(1)
    train = torch.rand(300, 2, generator=g, dtype=torch.float64) * 2 * math.pi
    val = torch.remainder(
        train[:40] + 0.2 * torch.randn(40, 2, generator=g, dtype=torch.float64), 2 * math.pi
    )
    kappas, weights = (1.0, 5.0, 25.0, 125.0), (0.3, 1.0)
    kde = fit_kde("von_mises", train, val, kappas, weights)
    lp = kde_log_density("von_mises", train, val, kappas)
    brute = min(
        (
            -float(torch.logaddexp(lp[i] + math.log(w), lp[j] + math.log1p(-w)).mean())
            if w < 1
            else -float(lp[i].mean()),
            i,
            j,
            w,
        )
        for i in range(4)
        for j in range(4)
        for w in weights
    )
    assert kde.val_nll == pytest.approx(brute[0], abs=1e-12)
    assert math.isclose(-float(kde.log_density(val).mean()), kde.val_nll, abs_tol=1e-9)


def test_bad_kernel_and_width_are_rejected():
    x = torch.zeros(3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="kernel kind 'vmfx'"):
        kde_log_density("vmfx", x, x, [1.0])
    with pytest.raises(ValueError, match="concentrations must be > 0"):
        kde_log_density("vmf", x, x, [0.0])
