"""Accurate exp/log/dist for geoopt's spheres and hyperboloids, and a product of any parts.

geoopt 0.5.1 computes the sphere's and the hyperboloid's distance as acos / arcosh of a
clamped inner product (clamped to 1 -+ 1e-7 in float64, 4e-3 in float32), so log_x(y) and
dist(x, y) are wrong for points closer than about 4e-4 (float64) or 1e-2 (float32): flow
matching targets near t = 1 and every finite-difference check break there. These objects
keep geoopt's method names (``expmap``, ``logmap``, ``dist``, ``inner(..., keepdim)``,
``proju``, ``projx``, ``transp``, ``retr``) so that GeooptSpace calls them in place of the
geoopt manifold, with closed forms that are exact at every distance:

* sphere: the maps of :class:`manifold_fm.spaces.sphere.Sphere` (atan2 distance, Gram-Schmidt
  twice), restricted to geoopt's optional subspace.
* hyperboloid {<x, x>_L = -K}, <a, b>_L = -a_0 b_0 + a_{1..} . b_{1..}: with
  u = y + (<x, y>_L / K) x (Minkowski-orthogonal to x, |u|_L = sqrt(K) sinh(r / sqrt K)),
  r = dist(x, y) = sqrt(K) asinh(|u|_L / sqrt K), log_x(y) = r u / |u|_L (ratio -> 1 as
  u -> 0), exp_x(v) = cosh(|v|_L / sqrt K) x + sinhc(|v|_L / sqrt K) v.
* :class:`ProductMaps`: each map applied per slice (reshaped to the part's shape);
  inner = sum, dist = sqrt(sum dist_i^2); a part without expmap steps with its retr.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from manifold_fm._math import safe_sqrt
from manifold_fm.spaces.sphere import Sphere

__all__ = ["LorentzMaps", "ProductMaps", "SphereMaps"]


def _keep(t: Tensor, keepdim: bool) -> Tensor:
    return t.unsqueeze(-1) if keepdim else t


def _sinhc(a: Tensor) -> Tensor:
    """sinh(a) / a, by its series below a = 1e-3."""
    small = a.abs() < 1e-3
    safe = torch.where(small, torch.ones_like(a), a)
    return torch.where(small, 1 + a * a / 6, torch.sinh(safe) / safe)


class SphereMaps:
    """A geoopt ``Sphere`` (points ``(n,)``) with closed-form exp/log/dist.

    Its optional subspace projector P (symmetric, from ``intersection`` / ``complement``) is
    applied in the dtype of the points: proju(x, v) = P (v - <x, v> x), projx(x) = Px / |Px|.
    """

    def __init__(self, sphere, n: int) -> None:
        self.closed = Sphere(n - 1)
        self.projector = getattr(sphere, "projector", None)

    def _sub(self, v: Tensor) -> Tensor:
        if self.projector is None:
            return v
        return v @ self.projector.to(device=v.device, dtype=v.dtype).transpose(-1, -2)

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        return self.closed.expmap(x, v)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        return self._sub(self.closed.logmap(x, y))

    def dist(self, x: Tensor, y: Tensor, keepdim: bool = False) -> Tensor:
        return _keep(self.closed.dist(x, y), keepdim)

    def inner(self, x: Tensor, u: Tensor, v: Tensor, keepdim: bool = False) -> Tensor:
        return (u * v).sum(-1, keepdim=keepdim)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return self._sub(self.closed.proju(x, v))

    def projx(self, x: Tensor) -> Tensor:
        return self.closed.projx(self._sub(x))

    def transp(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        return self.proju(y, v)

    def retr(self, x: Tensor, v: Tensor) -> Tensor:
        return self.projx(x + v)


def _wide(t: Tensor) -> Tensor:
    """``t`` in float64 when it is a narrower float (CPU/GPU alike), else ``t`` itself."""
    return t.double() if t.is_floating_point() and t.element_size() < 8 else t


class LorentzMaps:
    """A geoopt ``Lorentz`` hyperboloid (points ``(d + 1,)``) with closed-form exp/log/dist.

    exp, log and dist compute in float64 and return the input's dtype: far from the origin
    the Minkowski products cancel catastrophically (at distance 3.5 from a point with
    coordinates near 12, float32 arithmetic loses 1e-3 of exp(log(y)) - y).
    """

    def __init__(self, lorentz) -> None:
        self.geo, self.k = lorentz, lorentz.k
        self.big_k = float(lorentz.k)

    @staticmethod
    def _mink(a: Tensor, b: Tensor) -> Tensor:
        return (a * b).sum(-1, keepdim=True) - 2 * a[..., :1] * b[..., :1]

    def _orth(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(u, |u|_L): the part of y Minkowski-orthogonal to x and its norm."""
        u = y + (self._mink(x, y) / self.big_k) * x
        return u, safe_sqrt(self._mink(u, u))

    def dist(self, x: Tensor, y: Tensor, keepdim: bool = False) -> Tensor:
        sk = math.sqrt(self.big_k)
        xw, yw = _wide(x), _wide(y)
        _, nu = self._orth(xw, yw)
        return _keep((sk * torch.asinh(nu / sk)).squeeze(-1), keepdim).to(x.dtype)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        sk = math.sqrt(self.big_k)
        xw, yw = _wide(x), _wide(y)
        u, nu = self._orth(xw, yw)
        z = nu / sk
        small = z < 1e-4
        ratio = torch.where(small, 1 - z * z / 6, torch.asinh(z) / torch.where(small, 1, z))
        return self.geo.proju(xw, u * ratio).to(x.dtype)

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        sk = math.sqrt(self.big_k)
        xw, vw = _wide(x), _wide(v)
        a = safe_sqrt(self._mink(vw, vw)) / sk
        return self.geo.projx(torch.cosh(a) * xw + _sinhc(a) * vw).to(x.dtype)

    def expmap0(self, v: Tensor) -> Tensor:
        """exp at the origin (sqrt K, 0, ..., 0)."""
        o = torch.zeros_like(v)
        o[..., 0] = math.sqrt(self.big_k)
        return self.expmap(o, v)

    def inner(self, x: Tensor, u: Tensor, v: Tensor, keepdim: bool = False) -> Tensor:
        out = self._mink(u, v)
        return out if keepdim else out.squeeze(-1)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return self.geo.proju(x, v)

    def projx(self, x: Tensor) -> Tensor:
        return self.geo.projx(x)

    def transp(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        return self.geo.transp(x, y, v)

    def retr(self, x: Tensor, v: Tensor) -> Tensor:
        return self.expmap(x, v)


class ProductMaps:
    """Maps of a product whose flattened points are the parts' slices.

    Args:
        parts: ``(maps, shape, has_expmap)`` per part, in the order of the slices.
    """

    def __init__(self, parts: Sequence[tuple[object, tuple[int, ...], bool]]) -> None:
        self.parts = list(parts)
        self.slices, pos = [], 0
        for _, shape, _ in self.parts:
            self.slices.append(slice(pos, pos + math.prod(shape)))
            pos += math.prod(shape)

    def _each(self, fn, *ts: Tensor) -> list[Tensor]:
        batch = torch.broadcast_shapes(*(t.shape[:-1] for t in ts))
        ts = tuple(t.expand(*batch, t.shape[-1]) for t in ts)
        return [
            fn(m, has, *(t[..., sl].reshape(*batch, *shape) for t in ts))
            for (m, shape, has), sl in zip(self.parts, self.slices, strict=True)
        ]

    def _cat(self, outs: list[Tensor]) -> Tensor:
        batch = outs[0].shape[: outs[0].dim() - len(self.parts[0][1])]
        return torch.cat([o.reshape(*batch, -1) for o in outs], dim=-1)

    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a, b: (m.expmap if h else m.retr)(a, b), x, v))

    def retr(self, x: Tensor, v: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a, b: m.retr(a, b), x, v))

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a, b: m.logmap(a, b), x, y))

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a, b: m.proju(a, b), x, v))

    def projx(self, x: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a: m.projx(a), x))

    def transp(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        return self._cat(self._each(lambda m, h, a, b, c: m.transp(a, b, c), x, y, v))

    @staticmethod
    def _flat(t: Tensor, ndim: int) -> Tensor:
        return t.flatten(start_dim=t.dim() - ndim).sum(-1) if ndim else t

    def inner(self, x: Tensor, u: Tensor, v: Tensor, keepdim: bool = False) -> Tensor:
        outs = self._each(lambda m, h, a, b, c: m.inner(a, b, c, keepdim=True), x, u, v)
        total = sum(self._flat(o, len(s)) for o, (_, s, _) in zip(outs, self.parts, strict=True))
        return _keep(total, keepdim)

    def dist(self, x: Tensor, y: Tensor, keepdim: bool = False) -> Tensor:
        outs = self._each(lambda m, h, a, b: m.dist(a, b), x, y)
        return _keep(sum(o * o for o in outs).sqrt(), keepdim)
