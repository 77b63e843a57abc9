"""Cartesian products of spaces, e.g. sphere x torus or R^2 x tokens.

Layout: a product point is one tensor whose last axis concatenates each component's point
flattened (``event_shape = (sum_i prod(event_shape_i),)``); model outputs concatenate each
component's flattened output the same way. Integer components (token ids) are stored as
floats inside the product tensor (exact for ids below 2^24) and cast back for the component.

Everything is a sum over components: log_prior, loss, inner, squared distance; path and
step act per component. The manifold methods (expmap, logmap, ...) need every component to
be a :class:`ManifoldSpace` and raise ``TypeError`` otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm._math import safe_norm
from manifold_fm.errors import check_shape_suffix
from manifold_fm.spaces.base import ManifoldSpace, PathSample, Space, time_like

__all__ = ["ProductSpace"]


def _numel(shape: torch.Size) -> int:
    return math.prod(shape)


class ProductSpace(ManifoldSpace):
    """Product of spaces ``a x b x ...`` sharing one batch of times.

    Args:
        *spaces: the component spaces (at least two).
        weights: optional per-component loss weights (default all 1).
    """

    def __init__(self, *spaces: Space, weights: list[float] | None = None) -> None:
        if len(spaces) < 2 or not all(isinstance(s, Space) for s in spaces):
            raise ValueError("ProductSpace needs at least two Space instances")
        # components with maskable positions (CTMCSpace) are fine: the product itself has
        # mask_ndim = 0, so it refuses masks and never passes one down.
        super().__init__(None)
        self.spaces = tuple(spaces)
        w = [1.0] * len(spaces) if weights is None else [float(v) for v in weights]
        if len(w) != len(spaces) or any(not v >= 0 for v in w):
            raise ValueError(
                f"ProductSpace: need {len(spaces)} non-negative weights, got {weights}"
            )
        self.weights = w
        self._x_sizes = [_numel(s.event_shape) for s in spaces]
        self._v_sizes = [_numel(s.output_shape) for s in spaces]
        self.event_shape = torch.Size((sum(self._x_sizes),))
        self.is_manifold = all(isinstance(s, ManifoldSpace) for s in spaces)
        self.dim = sum(getattr(s, "dim", 0) for s in spaces)
        self.atol64 = max(getattr(s, "atol64", 0.0) for s in spaces)
        self.atol32 = max(getattr(s, "atol32", 0.0) for s in spaces)

    # -- layout -------------------------------------------------------------------------
    @property
    def tangent_shape(self) -> torch.Size:
        return torch.Size((sum(self._v_sizes),))

    def split(self, x: Tensor) -> list[Tensor]:
        """Component points, each of shape ``batch_shape + event_shape_i`` and own dtype."""
        parts = torch.split(x, self._x_sizes, dim=-1)
        out = []
        for s, p in zip(self.spaces, parts):
            p = p.reshape(*p.shape[:-1], *s.event_shape)
            if getattr(s, "integer_points", False):
                p = p.round().long()
            out.append(p)
        return out

    def split_tangent(self, v: Tensor) -> list[Tensor]:
        """Component outputs / tangent vectors, each shaped ``batch_shape + output_shape_i``."""
        parts = torch.split(v, self._v_sizes, dim=-1)
        return [p.reshape(*p.shape[:-1], *s.output_shape) for s, p in zip(self.spaces, parts)]

    @staticmethod
    def join(parts: list[Tensor], batch_ndim: int, dtype: torch.dtype | None = None) -> Tensor:
        """Concatenate component tensors flattened past ``batch_ndim`` along the last axis."""
        flat = [p.flatten(start_dim=batch_ndim) for p in parts]
        dtype = dtype or next((f.dtype for f in flat if f.is_floating_point()), torch.float32)
        return torch.cat([f.to(dtype) for f in flat], dim=-1)

    def _manifolds(self) -> tuple[ManifoldSpace, ...]:
        if not self.is_manifold:
            kinds = [type(s).__name__ for s in self.spaces]
            raise TypeError(
                f"ProductSpace{kinds}: this operation needs every component to be a ManifoldSpace"
            )
        return self.spaces  # type: ignore[return-value]

    # -- Space contract -------------------------------------------------------------------
    def sample_prior(self, n, *, generator=None, device=None, dtype=None) -> Tensor:
        parts = [
            s.sample_prior(n, generator=generator, device=device, dtype=dtype) for s in self.spaces
        ]
        return self.join(parts, 1, dtype)

    def log_prior(self, x: Tensor) -> Tensor:
        return sum(s.log_prior(p) for s, p in zip(self.spaces, self.split(x)))

    def path(self, x0, x1, t, *, generator=None, mask=None) -> PathSample:
        self.check_mask(x1, mask)
        t = time_like(t, self.batch_shape(x1), x1)
        parts = [
            s.path(a, b, t, generator=generator)
            for s, a, b in zip(self.spaces, self.split(x0), self.split(x1))
        ]
        nb = t.dim()
        return PathSample(
            x_t=self.join([p.x_t for p in parts], nb, x1.dtype),
            target=self.join([p.target for p in parts], nb, x1.dtype),
            t=t,
            x0=x0,
            x1=x1,
            extras={"parts": parts},
        )

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        outs = self.split_tangent(output)
        parts = sample.extras["parts"]
        return sum(w * s.loss(o, p) for s, w, o, p in zip(self.spaces, self.weights, outs, parts))

    def step(self, x, output, t, dt, *, mask=None, generator=None) -> Tensor:
        self.check_mask(x, mask)
        parts = [
            s.step(a, o, t, dt, generator=generator)
            for s, a, o in zip(self.spaces, self.split(x), self.split_tangent(output))
        ]
        return self.join(parts, x.dim() - 1, x.dtype)

    def guide(self, cond_output: Tensor, uncond_output: Tensor, scale: float) -> Tensor:
        parts = [
            s.guide(c, u, scale)
            for s, c, u in zip(
                self.spaces, self.split_tangent(cond_output), self.split_tangent(uncond_output)
            )
        ]
        return self.join(parts, cond_output.dim() - 1, cond_output.dtype)

    def validate(self, x: Tensor, atol: float | None = None) -> None:
        check_shape_suffix(x, self.event_shape, "ProductSpace")
        for i, (s, p) in enumerate(zip(self.spaces, self.split(x))):
            try:
                s.validate(p) if atol is None else s.validate(p, atol=atol)
            except ValueError as err:
                raise ValueError(f"ProductSpace component {i} ({type(s).__name__}): {err}") from err

    # -- manifold operations ----------------------------------------------------------------
    @property
    def volume(self) -> float:
        return math.prod(s.volume for s in self._manifolds())

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [m.expmap(a, b) for m, a, b in zip(ms, self.split(x), self.split_tangent(v))]
        return self.join(parts, x.dim() - 1, x.dtype)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [m.logmap(a, b) for m, a, b in zip(ms, self.split(x), self.split(y))]
        return self.join(parts, x.dim() - 1, x.dtype)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [m.proju(a, b) for m, a, b in zip(ms, self.split(x), self.split_tangent(v))]
        return self.join(parts, x.dim() - 1, x.dtype)

    def transport(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [
            m.transport(a, b, c)
            for m, a, b, c in zip(ms, self.split(x), self.split(y), self.split_tangent(v))
        ]
        return self.join(parts, x.dim() - 1, x.dtype)

    def to_ambient_velocity(self, x: Tensor, v: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [
            m.to_ambient_velocity(a, b) for m, a, b in zip(ms, self.split(x), self.split_tangent(v))
        ]
        return self.join(parts, x.dim() - 1, x.dtype)

    def from_ambient_velocity(self, x: Tensor, dx: Tensor) -> Tensor:
        ms = self._manifolds()
        parts = [
            m.from_ambient_velocity(a, b) for m, a, b in zip(ms, self.split(x), self.split(dx))
        ]
        return self.join(parts, x.dim() - 1, x.dtype)

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Block basis: each component's basis, zero-padded into the joint tangent layout.

        Shape ``batch_shape + (dim,) + (sum_i numel(tangent_i),)``.
        """
        ms = self._manifolds()
        nb = x.dim() - 1
        total = sum(self._v_sizes)
        blocks, offset = [], 0
        for m, a, size in zip(ms, self.split(x), self._v_sizes):
            b = m.tangent_basis(a).flatten(start_dim=nb + 1)
            pad = (offset, total - offset - size)
            blocks.append(torch.nn.functional.pad(b, pad))
            offset += size
        return torch.cat(blocks, dim=nb)

    def log_volume_drift(self, x: Tensor, v: Tensor) -> Tensor | None:
        """Sum of the components' metric-volume terms (None if no component has one)."""
        ms = self._manifolds()
        terms = [
            m.log_volume_drift(a, b) for m, a, b in zip(ms, self.split(x), self.split_tangent(v))
        ]
        terms = [t for t in terms if t is not None]
        return sum(terms) if terms else None

    def projx(self, x: Tensor) -> Tensor:
        parts = [m.projx(a) for m, a in zip(self._manifolds(), self.split(x))]
        return self.join(parts, x.dim() - 1, x.dtype)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        ms = self._manifolds()
        return sum(
            m.inner(a, b, c)
            for m, a, b, c in zip(ms, self.split(x), self.split_tangent(u), self.split_tangent(v))
        )

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        ds = [m.dist(a, b) for m, a, b in zip(self._manifolds(), self.split(x), self.split(y))]
        return safe_norm(torch.stack(ds, -1))

    def point_error(self, x: Tensor) -> Tensor:
        errs = [m.point_error(a) for m, a in zip(self._manifolds(), self.split(x))]
        return torch.stack(errs, -1).amax(-1)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        ms = self._manifolds()
        pairs = [m.interpolate(a, b, s) for m, a, b in zip(ms, self.split(x0), self.split(x1))]
        nb = s.dim()
        return (
            self.join([p[0] for p in pairs], nb, x0.dtype),
            self.join([p[1] for p in pairs], nb, x0.dtype),
        )

    def __repr__(self) -> str:
        return "ProductSpace(" + ", ".join(repr(s) for s in self.spaces) + ")"
