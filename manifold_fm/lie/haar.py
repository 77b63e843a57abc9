"""The uniform (Haar) law on SO(3) as a :class:`~manifold_fm.priors.Prior`.

Density 1 / (8 pi^2) w.r.t. the Riemannian volume of the angle metric (total volume
8 pi^2); draws are normalised Gaussian quaternions (:func:`random_rotation`), so a seed
gives the same rotations as that function.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.lie.igso3 import LOG_VOLUME
from manifold_fm.lie.rotations import random_rotation

__all__ = ["HaarSO3"]


class HaarSO3:
    """The Haar probability measure on SO(3), a :class:`~manifold_fm.priors.Prior`."""

    def sample(
        self,
        n: int | tuple[int, ...],
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """``n`` Haar-uniform rotations, shape ``(*n, 3, 3)``."""
        return random_rotation(n, generator=generator, device=device, dtype=dtype)

    def log_prob(self, r: Tensor) -> Tensor:
        """-log(8 pi^2) at every rotation. ``(..., 3, 3) -> (...)``."""
        return torch.full(r.shape[:-2], -LOG_VOLUME, device=r.device, dtype=r.dtype)

    def __repr__(self) -> str:
        return "HaarSO3()"
