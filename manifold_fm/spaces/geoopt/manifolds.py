"""What :class:`~manifold_fm.spaces.geoopt.space.GeooptSpace` needs to know about a geoopt manifold.

:func:`describe` looks at a ``geoopt.Manifold`` once, at construction, and returns a
:class:`GeooptKind`: intrinsic dimension, default prior (or why there is none), exact uniform
sampler and volume where they exist, path strategy, and the chart corrections of the
likelihood. This is the only module that imports geoopt, and it is imported only when a
GeooptSpace is built, so ``import manifold_fm`` does not pay for geoopt (nor for the scipy
its optimizers load).

Dimensions (``dim``, the rank of every tangent space): Stiefel V_k(R^n): nk - k(k+1)/2;
SPD(n): n(n+1)/2; Sphere in R^n: n - 1, or rank(subspace) - 1 with geoopt's
``intersection`` / ``complement``; Lorentz in R^(d+1): d; stereographic models and
Euclidean: the number of coordinates; products: the sum; Scaled: the base's.

Default priors: uniform where the volume is finite and uniform sampling is exact (Stiefel,
spheres, the stereographic sphere k > 0); a wrapped normal at the origin with its exact
density on the non-compact constant-curvature and SPD spaces (Poincare ball and flat
stereographic k <= 0, Lorentz, SPD); N(0, I) on Euclidean; products and scalings composed
from their parts. No default (a :class:`NoDefaultPriorError` saying why): BirkhoffPolytope
(its metric tr(U V / X) on the doubly-stochastic matrices has no known closed-form volume
or exact uniform sampler, and geoopt gives it neither exp nor log, so no wrapped law) and
the Siegel spaces (UpperHalf, BoundedDomain: the wrapped-normal Jacobian on
Sp(2n, R)/U(n) is not implemented here). Pass ``prior=`` for those.

geoopt's ``Scaled(M, s)`` represents a tangent vector as s times the point's velocity and
keeps M's inner product; GeooptSpace instead keeps tangent vectors equal to velocities (as
every other ManifoldSpace) and uses M's maps with the metric s^2 g_M (``base``, ``scale``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import geoopt
import torch
from geoopt.manifolds.base import Manifold
from torch import Tensor

from manifold_fm.errors import ManifoldFMError
from manifold_fm.priors import Prior
from manifold_fm.spaces.geoopt import maps as gm
from manifold_fm.spaces.geoopt import priors as gp

__all__ = ["GeooptKind", "NoDefaultPriorError", "describe", "implements"]

Drift = Callable[[Tensor, Tensor], Tensor]


class NoDefaultPriorError(ManifoldFMError, ValueError):
    """The manifold has no default prior with an exact density; pass ``prior=``."""


@dataclass
class GeooptKind:
    """One manifold's facts, fixed at construction (see the module docstring)."""

    base: Manifold | object  # whose maps are called (``Scaled`` unwrapped, maps replaced)
    has: dict[str, bool]  # which of expmap / logmap / dist ``base`` really has
    scale: float  # metric = scale^2 * base metric
    dim: int
    prior: Prior | None
    no_prior: str  # why ``prior`` is None
    uniform: Prior | None  # exact uniform sampler, None where there is none
    log_volume: float  # math.inf where infinite
    path_kind: str  # "spd" | "transport" | "logmap" | "projected"
    polar: bool  # the projected path of Stiefel has the closed-form polar derivative
    canonical_stiefel: bool
    drift: Drift | None  # <grad log sqrt det G, v> of a chart metric
    extra_error: Callable[[Tensor], Tensor] | None  # added to |x - projx(x)|


def implements(m: Manifold, name: str) -> bool:
    """Whether ``m`` has a working ``name`` (not geoopt's NotImplementedError stub).

    A product has it when every part has it (its maps call the parts'); ``Scaled``
    when its base does.
    """
    if isinstance(m, geoopt.Scaled):
        return implements(m.base, name)
    if isinstance(m, geoopt.ProductManifold):
        return all(implements(p, name) for p in m.manifolds)
    return getattr(type(m), name) is not getattr(Manifold, name)


def _name(m: Manifold) -> str:
    return type(m).__name__


def _shape_error(m: Manifold, shape: tuple[int, ...], need: str) -> ValueError:
    return ValueError(f"GeooptSpace: {_name(m)} event_shape {need}, got {shape}")


def _kind(m: Manifold, **kw) -> GeooptKind:
    base = {
        "base": m,
        "has": {name: implements(m, name) for name in ("expmap", "logmap", "dist")},
        "scale": 1.0,
        "no_prior": "",
        "uniform": None,
        "log_volume": math.inf,
        "polar": False,
        "canonical_stiefel": False,
        "drift": None,
        "extra_error": None,
    }
    base.update(kw)
    if "path_kind" not in base:
        base["path_kind"] = "logmap" if base["has"]["logmap"] else "projected"
    return GeooptKind(**base)


def _stereographic_drift(m: Manifold, d: int) -> Drift:
    def drift(x: Tensor, v: Tensor) -> Tensor:
        k = m.k.to(device=x.device, dtype=x.dtype)
        lam = 2 / (1 + k * (x * x).sum(-1))
        return -d * k * lam * (x * v).sum(-1)

    return drift


def _spd_drift(n: int) -> Drift:
    def drift(x: Tensor, v: Tensor) -> Tensor:
        tr = torch.linalg.solve(x, v).diagonal(dim1=-2, dim2=-1).sum(-1)
        return -0.5 * (n + 1) * tr

    return drift


def _spd_error(x: Tensor) -> Tensor:
    return torch.relu(-torch.linalg.eigvalsh(0.5 * (x + x.transpose(-1, -2)))[..., 0])


def _no_prior(m: Manifold, dim: int, why: str, **kw) -> GeooptKind:
    return _kind(m, dim=dim, prior=None, no_prior=f"{_name(m)}: {why}", **kw)


def describe(m: Manifold, shape: tuple[int, ...]) -> GeooptKind:
    """The :class:`GeooptKind` of ``m`` with points of shape ``shape`` (validated here).

    Raises:
        TypeError: ``m`` is not a ``geoopt.Manifold``.
        ValueError: ``shape`` does not fit ``m`` (or ``m`` nests what is not supported).
    """
    if not isinstance(m, Manifold):
        raise TypeError(f"GeooptSpace: manifold must be a geoopt.Manifold, got {_name(m)}")
    if len(shape) != m.ndim or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape
    ):
        raise ValueError(
            f"GeooptSpace: {_name(m)} has points with {m.ndim} dims; event_shape must be "
            f"{m.ndim} positive ints, got {shape!r}"
        )
    if isinstance(m, geoopt.Scaled):
        return _scaled(m, shape)
    if isinstance(m, geoopt.ProductManifold):
        return _product(m, shape)
    if isinstance(m, geoopt.Stiefel):
        n, k = shape
        if k > n:
            raise _shape_error(m, shape, "(n, k) needs k <= n")
        canonical = isinstance(m, geoopt.CanonicalStiefel)
        prior = gp.StiefelUniform(n, k, canonical=canonical)
        return _kind(
            m,
            dim=n * k - k * (k + 1) // 2,
            prior=prior,
            uniform=prior,
            log_volume=prior.log_volume,
            polar=not implements(m, "logmap"),
            canonical_stiefel=canonical,
        )
    if isinstance(m, geoopt.SymmetricPositiveDefinite):
        n = shape[0]
        if shape[1] != n:
            raise _shape_error(m, shape, "must be square")
        aim = m.default_metric.value == "AIM"
        return _kind(
            m,
            dim=n * (n + 1) // 2,
            prior=gp.SPDWrappedNormal(n) if aim else None,
            no_prior=""
            if aim
            else f"SPD: the default prior assumes the AIM metric, not {m.default_metric.value}",
            path_kind="spd" if aim else "logmap",
            drift=_spd_drift(n) if aim else None,
            extra_error=_spd_error,
        )
    if isinstance(m, geoopt.Sphere):
        n = shape[0]
        proj = getattr(m, "projector", None)
        rank = n if proj is None else round(float(torch.diagonal(proj).sum()))
        if rank < 2:
            raise _shape_error(m, shape, f"spans a subspace of rank {rank}: need >= 2")
        maps = gm.SphereMaps(m, n)
        prior = gp.SphereUniform(maps, n, rank - 1)
        return _kind(
            m, base=maps, dim=rank - 1, prior=prior, uniform=prior, log_volume=prior.log_volume
        )
    if isinstance(m, geoopt.Stereographic):
        d, k = shape[0], float(m.k)
        drift = _stereographic_drift(m, d)
        if k > 0:
            prior = gp.StereographicUniform(k, d)
            return _kind(
                m,
                dim=d,
                prior=prior,
                uniform=prior,
                log_volume=prior.log_volume,
                path_kind="transport",
                drift=drift,
            )
        prior = gp.PoincareWrappedNormal(m, d)
        return _kind(m, dim=d, prior=prior, path_kind="transport", drift=drift)
    if isinstance(m, geoopt.Lorentz):
        if shape[0] < 2:
            raise _shape_error(m, shape, "(d + 1,) needs d >= 1")
        d = shape[0] - 1
        maps = gm.LorentzMaps(m)
        return _kind(m, base=maps, dim=d, prior=gp.LorentzWrappedNormal(maps, d))
    if isinstance(m, geoopt.Euclidean):
        return _kind(m, dim=math.prod(shape), prior=gp.StandardGaussian(shape))
    dim = math.prod(shape)
    if isinstance(m, geoopt.BirkhoffPolytope):
        n = shape[0]
        if shape[1] != n:
            raise _shape_error(m, shape, "must be square")
        why = (
            "no exact density is known: geoopt's metric tr(U V / X) has no closed-form "
            "volume or exact uniform sampler on the doubly-stochastic matrices, and without "
            "exp/log maps there is no wrapped normal"
        )
        return _no_prior(m, (n - 1) ** 2, why)
    if isinstance(m, (geoopt.UpperHalf, geoopt.BoundedDomain)):
        why = "the wrapped-normal Jacobian on Sp(2n, R)/U(n) is not implemented"
        return _no_prior(m, dim, why)
    return _no_prior(
        m,
        dim,
        "not a manifold this module knows; its dimension is taken as the number of coordinates",
    )


def _scaled(m: Manifold, shape: tuple[int, ...]) -> GeooptKind:
    inner = describe(m.base, shape)
    s = float(m.scale)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"GeooptSpace: Scaled needs a positive finite scale, got {s}")
    inner.scale *= s
    if inner.prior is not None:
        inner.prior = gp.ScaledPrior(inner.prior, s, inner.dim)
    if inner.uniform is not None:
        inner.uniform = gp.ScaledPrior(inner.uniform, s, inner.dim)
    inner.log_volume += inner.dim * math.log(s)
    return inner


def _product(m: Manifold, shape: tuple[int, ...]) -> GeooptKind:
    if shape[0] != m.n_elements:
        raise _shape_error(m, shape, f"must be ({m.n_elements},), the parts' total size")
    parts = [describe(p, tuple(s)) for p, s in zip(m.manifolds, m.shapes, strict=True)]
    for p, k in zip(m.manifolds, parts, strict=True):
        if k.scale != 1.0 or k.canonical_stiefel:
            raise ValueError(
                f"GeooptSpace: ProductManifold with a {_name(p)} part is not supported "
                "(geoopt's Scaled tangents are scale x velocity and CanonicalStiefel's proju "
                "is not a projection); use manifold_fm's ProductSpace of GeooptSpaces"
            )
    shapes = [tuple(s) for s in m.shapes]
    missing = [k.no_prior for k in parts if k.prior is None]
    prior = None if missing else gp.ProductPrior([(k.prior, s) for k, s in zip(parts, shapes)])
    uniform = None
    if all(k.uniform is not None for k in parts):
        uniform = gp.ProductPrior([(k.uniform, s) for k, s in zip(parts, shapes)])
    drifts = [(k.drift, sl, s) for k, sl, s in zip(parts, m.slices, shapes) if k.drift]
    errors = [(k.extra_error, sl, s) for k, sl, s in zip(parts, m.slices, shapes) if k.extra_error]

    def split_sum(fns, *ts: Tensor) -> Tensor:
        batch = torch.broadcast_shapes(*(t.shape[:-1] for t in ts))
        ts = tuple(t.expand(*batch, t.shape[-1]) for t in ts)
        return sum(f(*(t[..., sl].reshape(*batch, *s) for t in ts)) for f, sl, s in fns)

    has = {name: all(k.has[name] for k in parts) for name in ("expmap", "logmap", "dist")}
    maps = gm.ProductMaps([(k.base, s, k.has["expmap"]) for k, s in zip(parts, shapes)])
    return _kind(
        m,
        base=maps,
        has=has,
        path_kind="logmap" if has["logmap"] else "projected",
        dim=sum(k.dim for k in parts),
        prior=prior,
        uniform=uniform,
        no_prior="ProductManifold: " + "; ".join(missing),
        log_volume=sum(k.log_volume for k in parts),
        drift=(lambda x, v: split_sum(drifts, x, v)) if drifts else None,
        extra_error=(lambda x: split_sum(errors, x)) if errors else None,
    )
