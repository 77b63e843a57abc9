"""The one protocol every source or reference distribution with an exact density follows.

Spaces draw their priors through it, the synthetic ground-truth mixtures implement it, and
IGSO3 and the geoopt defaults are instances of it, so any of them can be passed where a
prior is expected (``GeooptSpace(manifold, shape, prior=...)``) or scored against a model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["Prior"]


@runtime_checkable
class Prior(Protocol):
    """A distribution on a space's points with a sampler and an exact log density.

    ``sample(n, *, generator=None, device=None, dtype=None)`` returns ``n`` i.i.d. points,
    shape ``(n, *event_shape)``, drawn only from ``generator`` (so a seed reproduces them),
    on ``device`` in ``dtype`` (defaults: the CPU and torch's default dtype, unless the
    distribution documents its own).

    ``log_prob(x)`` returns log p(x) for points of shape ``(*batch, *event_shape)``, shape
    ``batch``: the log density w.r.t. the space's Riemannian volume measure for continuous
    spaces (so that integral of exp(log_prob) dvol = 1), the log pmf for discrete ones.

    ``isinstance(obj, Prior)`` checks that both methods exist (not their signatures).
    """

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """``n`` points, shape ``(n, *event_shape)``."""
        ...

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x), shape ``x.shape[:-event_ndim]``."""
        ...
