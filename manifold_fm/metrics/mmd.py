"""Sample-quality metrics that work on any ManifoldSpace.

MMD^2 with a Gaussian kernel of the geodesic distance, k(x, y) = exp(-dist(x, y)^2 / (2 h^2)):

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)

estimated without bias (U-statistic: the diagonal terms are dropped), so an estimate can be
slightly negative. A Gaussian kernel of the geodesic distance is positive definite on flat
spaces (R^d) but not in general on curved ones (Feragen et al. 2015), so no claim is made
that MMD^2 = 0 only when P = Q: the figure is a two-sample discrepancy read against a noise
floor (fresh samples of the same law), which is how the demo and the benchmarks report it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.couplings import pairwise_cost
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["mmd2"]


def _mean_kernel(space: ManifoldSpace, a: Tensor, b: Tensor, h: float, same: bool) -> Tensor:
    k = torch.exp(-pairwise_cost(space, a, b).double() / (2 * h * h))
    if same:
        n = a.shape[0]
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1))
    return k.mean()


@torch.no_grad()
def mmd2(space: ManifoldSpace, x: Tensor, y: Tensor, bandwidth: float = 0.2) -> float:
    """Unbiased MMD^2 between point sets ``x`` (n, *event) and ``y`` (m, *event)."""
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(f"mmd2 needs at least 2 points per set, got {x.shape[0]} and {y.shape[0]}")
    if not bandwidth > 0:
        raise ValueError(f"mmd2: bandwidth must be > 0, got {bandwidth}")
    kxx = _mean_kernel(space, x, x, bandwidth, True)
    kyy = _mean_kernel(space, y, y, bandwidth, True)
    kxy = _mean_kernel(space, x, y, bandwidth, False)
    return float(kxx + kyy - 2 * kxy)
