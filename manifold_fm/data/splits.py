"""Random 80/10/10 splits as in the published Riemannian benchmarks, and duplicate counts.

The RFM protocol (Chen & Lipman 2024) calls ``torch.utils.data.random_split(data,
[N - 2 (N // 10), N // 10, N // 10], generator=torch.Generator().manual_seed(seed))``; this
reproduces those indices (a permutation from ``torch.randperm`` with the same generator).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Split", "duplicate_share", "novel_mask", "random_split_indices"]


@dataclass
class Split:
    """Index tensors (int64) of the train / validation / test parts."""

    train: Tensor
    val: Tensor
    test: Tensor

    def as_lists(self) -> dict[str, list[int]]:
        """The indices as plain lists (for JSON records)."""
        return {"train": self.train.tolist(), "val": self.val.tolist(), "test": self.test.tolist()}


def random_split_indices(n: int, seed: int) -> Split:
    """Indices of the RFM split: sizes (n - 2 (n // 10), n // 10, n // 10), seeded permutation."""
    if int(n) < 10:
        raise ValueError(f"need at least 10 rows to split 80/10/10, got {n}")
    k = n // 10
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return Split(train=perm[: n - 2 * k], val=perm[n - 2 * k : n - k], test=perm[n - k :])


def duplicate_share(train: Tensor, test: Tensor) -> float:
    """Share of test rows that exactly equal some training row (rows of shape (n, d))."""
    if train.dim() != 2 or test.dim() != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"duplicate_share needs (n, d) tensors with equal d, got {tuple(train.shape)} "
            f"and {tuple(test.shape)}"
        )
    both = torch.cat([train, test])
    _, inverse = torch.unique(both, dim=0, return_inverse=True)
    in_train = torch.zeros(int(inverse.max()) + 1, dtype=torch.bool)
    in_train[inverse[: train.shape[0]]] = True
    return float(in_train[inverse[train.shape[0] :]].float().mean())


def novel_mask(space, train: Tensor, test: Tensor, radius: float = 1e-3) -> Tensor:
    """True for test points with no training point within geodesic distance ``radius``.

    min_i space.dist(test_j, train_i) > radius, in float64, for points of shape
    ``(n, *event_shape)``; returns a bool tensor of shape ``(m,)``. On S^2 the distance is
    the great-circle angle (1e-3 rad is about 6.4 km on Earth); on the flat torus it is
    the Euclidean norm of the wrapped angle differences.
    """
    if not radius > 0:
        raise ValueError(f"novel_mask: radius must be > 0, got {radius}")
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(
            f"novel_mask: train {tuple(train.shape)} and test {tuple(test.shape)} points differ"
        )
    tr, te = train.double(), test.double()
    chunk = max(1, 2_000_000 // max(1, tr.shape[0]))
    near = [
        space.dist(te[i : i + chunk].unsqueeze(1), tr.unsqueeze(0)).amin(1)
        for i in range(0, te.shape[0], chunk)
    ]
    return torch.cat(near) > radius if near else torch.zeros(0, dtype=torch.bool)
