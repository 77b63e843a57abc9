"""The manifold product: every part continuous, so the product is a Riemannian manifold.

Sphere x torus, SE(3) x R^d and the like are true
:class:`ManifoldSpace` instances (the likelihood, couplings and geometric solvers need
``expmap``, ``logmap``, ``inner``, ``dist``, ``dim``, ...). Every manifold method acts
per component on the layout of :mod:`manifold_fm.spaces.product`:

* exp/log/proju/projx/log_differential and the ambient-velocity maps: per component,
  joined;
* <u, v>_x = sum_i <u_i, v_i>_{x_i};  dist(x, y) = sqrt(sum_i dist_i(x_i, y_i)^2);
* dim = sum_i dim_i;  volume = prod_i volume_i;  point_error = max_i point_error_i;
* tangent basis: the parts' bases placed block-diagonally in the joint tangent layout.

The training pair, loss and step are the general product's (each part's own), so a part's
own path (Euclidean's affine paths, SE(3)'s masked frames) is kept.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm._math import safe_norm
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["ManifoldProduct"]


class ManifoldProduct(GeneralProduct, ManifoldSpace):
    """Product ``M_1 x M_2 x ...`` of :class:`ManifoldSpace` parts (a ManifoldSpace).

    Args:
        *spaces: the component manifolds (at least two).
        weights: optional non-negative per-component loss weights (default all 1).
    """

    spaces: tuple[ManifoldSpace, ...]

    def __init__(self, *spaces: ManifoldSpace, weights: list[float] | None = None) -> None:
        for i, s in enumerate(spaces):
            if not isinstance(s, ManifoldSpace):
                raise TypeError(
                    f"ManifoldProduct: component {i} ({type(s).__name__}) is not a "
                    "ManifoldSpace; build mixed products with ProductSpace(...)"
                )
        super().__init__(*spaces, weights=weights)
        self.dim = sum(s.dim for s in spaces)
        self.atol64 = max(s.atol64 for s in spaces)
        self.atol32 = max(s.atol32 for s in spaces)
        self.has_uniform = all(s.has_uniform for s in spaces)

    @property
    def tangent_shape(self) -> torch.Size:
        return self.output_shape

    def validate(self, x: Tensor, atol: float | None = None) -> None:
        """Shape, then each part's own validation (with ``atol`` when given)."""
        self._validate_parts(x, atol)

    def _join(self, parts: list[Tensor], x: Tensor) -> Tensor:
        return self.join(parts, x.dim() - 1, x.dtype)

    # -- volume and uniform law -------------------------------------------------------------
    @property
    def volume(self) -> float:
        return math.prod(s.volume for s in self.spaces)

    def random_uniform(self, n, *, generator=None, device=None, dtype=None) -> Tensor:
        """Independent uniform draws of every part, joined (needs ``has_uniform``)."""
        if not self.has_uniform:
            without = [type(s).__name__ for s in self.spaces if not s.has_uniform]
            raise NotImplementedError(f"{self!r}: no exact uniform sampler for {without}")
        kw = {"generator": generator, "device": device, "dtype": dtype}
        return self.join([s.random_uniform(n, **kw) for s in self.spaces], 1, dtype)

    # -- geometry -------------------------------------------------------------------------
    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split_tangent(v))
        return self._join([m.expmap(a, b) for m, a, b in parts], x)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split(y))
        return self._join([m.logmap(a, b) for m, a, b in parts], x)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split_tangent(v))
        return self._join([m.proju(a, b) for m, a, b in parts], x)

    def projx(self, x: Tensor) -> Tensor:
        return self._join([m.projx(a) for m, a in zip(self.spaces, self.split(x))], x)

    def log_differential(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split(y), self.split_tangent(v))
        return self._join([m.log_differential(a, b, c) for m, a, b, c in parts], x)

    def to_ambient_velocity(self, x: Tensor, v: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split_tangent(v))
        return self._join([m.to_ambient_velocity(a, b) for m, a, b in parts], x)

    def from_ambient_velocity(self, x: Tensor, dx: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split(dx))
        return self._join([m.from_ambient_velocity(a, b) for m, a, b in parts], x)

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Block basis: each part's basis, zero-padded into the joint tangent layout.

        Shape ``batch_shape + (dim,) + (sum_i numel(tangent_i),)``.
        """
        nb = x.dim() - 1
        total = sum(self._v_sizes)
        blocks, offset = [], 0
        for m, a, size in zip(self.spaces, self.split(x), self._v_sizes):
            b = m.tangent_basis(a).flatten(start_dim=nb + 1)
            blocks.append(torch.nn.functional.pad(b, (offset, total - offset - size)))
            offset += size
        return torch.cat(blocks, dim=nb)

    def log_volume_drift(self, x: Tensor, v: Tensor) -> Tensor | None:
        """Sum of the parts' metric-volume terms (None if no part has one)."""
        parts = zip(self.spaces, self.split(x), self.split_tangent(v))
        terms = [t for t in (m.log_volume_drift(a, b) for m, a, b in parts) if t is not None]
        return sum(terms) if terms else None

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        parts = zip(self.spaces, self.split(x), self.split_tangent(u), self.split_tangent(v))
        return sum(m.inner(a, b, c) for m, a, b, c in parts)

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        ds = [m.dist(a, b) for m, a, b in zip(self.spaces, self.split(x), self.split(y))]
        return safe_norm(torch.stack(ds, -1))

    def point_error(self, x: Tensor) -> Tensor:
        errs = [m.point_error(a) for m, a in zip(self.spaces, self.split(x))]
        return torch.stack(errs, -1).amax(-1)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """Per-part unit-time geodesics joined: ``(gamma(s), gamma'(s))``."""
        pairs = [
            m.interpolate(a, b, s) for m, a, b in zip(self.spaces, self.split(x0), self.split(x1))
        ]
        nb = s.dim()
        return (
            self.join([p[0] for p in pairs], nb, x0.dtype),
            self.join([p[1] for p in pairs], nb, x0.dtype),
        )
