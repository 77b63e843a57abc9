"""Any geoopt manifold as a :class:`ManifoldSpace` (Stiefel, Poincare ball, SPD, Lorentz, ...).

``GeooptSpace`` delegates the geometry (expmap, logmap, proju, projx, inner, dist) to the
wrapped ``geoopt.Manifold`` and adds what flow matching needs on top: a prior with an exact
density (defaults in :mod:`manifold_fm.spaces.geoopt.manifolds`, which says per manifold what
the default is and where there is none), the conditional path and its target velocity,
validation. geoopt itself is imported when the first GeooptSpace is built, not before.

Path and target, chosen once per manifold (``self.path_kind``):

* ``"spd"`` (SymmetricPositiveDefinite, affine-invariant metric): closed form. With
  S = x0^{1/2}, M = S^-1 x1 S^-1 = Q diag(m) Q^T:
  gamma(s) = S Q diag(m^s) Q^T S,  gamma'(s) = S Q diag(log(m) m^s) Q^T S.
* ``"transport"`` (stereographic models, e.g. PoincareBall): gamma(s) = exp_{x0}(s v),
  gamma'(s) = P_{x0 -> gamma(s)} v with v = log_{x0} x1 and geoopt's exact parallel transport
  (the velocity of a geodesic is parallel); bounded by kappa' * dist(x0, x1) up to t = 1.
* ``"logmap"`` (any other manifold with a logmap): the generic
  gamma'(s) = log_{gamma(s)}(x1) / (1 - s) of :class:`ManifoldSpace`.
* ``"projected"`` (no logmap, e.g. geoopt's Stiefel): **not a geodesic**. The projected
  linear interpolant x_s = projx((1 - s) x0 + s x1) with its exact derivative. For
  Stiefel, projx is the polar factor Q = A P^-1 with P = (A^T A)^{1/2}; differentiating
  A = Q P with dA = x1 - x0 gives, in the eigenbasis A^T A = V diag(sig^2) V^T,
  U = A V diag(1/sig), M = U^T dA V, dP_V[i, j] = (sig_i M_ij + M_ji sig_j) / (sig_i + sig_j),
  dQ = (dA V - U dP_V) diag(1/sig) V^T   (closed form, no autodiff).
  Other manifolds without logmap fall back to ``torch.func.jvp`` through projx. On such
  spaces ``logmap`` (and ``dist`` where geoopt lacks it) raise ``NotImplementedError``, so
  ``check_space`` skips the logmap-based properties and compares the target with the
  ambient finite difference instead. The interpolant is undefined where (1-s) x0 + s x1
  is rank deficient (a measure-zero set of pairs); singular values are clamped there.

Gradients: the SPD and Stiefel paths are built from eigendecompositions whose gradients
are infinite at repeated eigenvalues, which x0 == x1 always produces; these two paths
therefore treat x0 and x1 as data (detached: no gradient flows to them; gradients with
respect to s and to the model output are unaffected). The Poincare path is differentiable.

Sampling steps use geoopt's ``expmap`` (for ``geoopt.Stiefel(canonical=True)`` that is the
Cayley retraction; use ``canonical=False`` for the exact Euclidean-metric exponential map);
a manifold without ``expmap`` steps with its ``retr``. ``proju`` of the canonical Stiefel
manifold is replaced by the orthogonal tangent projection (geoopt's is not idempotent).
Known precision limit: geoopt's stereographic maps lose accuracy near the ball's boundary
(exp(log) is off by up to ~1e-3 in float64 for c = 2 and unit-variance wrapped normals).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from manifold_fm.priors import Prior
from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import ManifoldSpace, pad_time

if TYPE_CHECKING:
    from geoopt.manifolds.base import Manifold

__all__ = ["GeooptSpace"]


class GeooptSpace(ManifoldSpace):
    """Flow matching on a geoopt manifold.

    Args:
        manifold: a ``geoopt.Manifold`` instance, e.g. ``geoopt.Stiefel(canonical=False)``,
            ``geoopt.PoincareBall(c=1.0)``, ``geoopt.SymmetricPositiveDefinite()``,
            ``geoopt.Lorentz()``, ``geoopt.ProductManifold(...)``, ``geoopt.Scaled(...)``.
        event_shape: shape of one point, with ``len(event_shape) == manifold.ndim``
            (``(n, k)`` for Stiefel, ``(d,)`` for the ball, ``(d + 1,)`` for Lorentz H^d,
            ``(n, n)`` for SPD).
        prior: a :class:`~manifold_fm.priors.Prior` (log density w.r.t. the Riemannian
            volume); the default per manifold is listed in
            :mod:`manifold_fm.spaces.geoopt.manifolds` (uniform on compact spaces, a wrapped
            normal at the origin on hyperbolic and SPD spaces).
        schedule: kappa schedule of the path (default linear).

    Raises:
        TypeError: ``manifold`` is not a geoopt manifold, or ``prior`` not a Prior.
        ValueError: ``event_shape`` does not fit the manifold; ``NoDefaultPriorError`` (a
            ValueError) when ``prior`` is None and the manifold has no default.
    """

    def __init__(
        self,
        manifold: Manifold,
        event_shape: tuple[int, ...] | torch.Size,
        prior: Prior | None = None,
        schedule: KappaSchedule | str | None = None,
    ) -> None:
        super().__init__(schedule)
        from manifold_fm.spaces.geoopt.manifolds import NoDefaultPriorError, describe

        kind = describe(manifold, tuple(event_shape))
        if prior is None:
            if kind.prior is None:
                raise NoDefaultPriorError(
                    f"GeooptSpace: no default prior for {kind.no_prior}; pass prior=... "
                    "(a manifold_fm.priors.Prior: sample(n, *, generator, device, dtype) "
                    "and log_prob(x))"
                )
            prior = kind.prior
        elif not isinstance(prior, Prior):
            raise TypeError(
                f"GeooptSpace: prior must be a manifold_fm.priors.Prior (sample(n, ...) and "
                f"log_prob(x) methods), got {type(prior).__name__}"
            )
        self.manifold = manifold
        self.event_shape = torch.Size(tuple(event_shape))
        self.prior = prior
        self.kind = kind
        self.dim = kind.dim
        self.path_kind = kind.path_kind
        self._base, self._scale = kind.base, kind.scale
        self._has = kind.has
        self.has_uniform = kind.uniform is not None

    # -- bookkeeping ---------------------------------------------------------------------
    @property
    def volume(self) -> float:
        return math.exp(self.kind.log_volume)

    def _sum(self, v: Tensor) -> Tensor:
        return v.flatten(start_dim=v.dim() - self.event_ndim).sum(-1)

    # -- prior ---------------------------------------------------------------------------
    def sample_prior(self, n, *, generator=None, device=None, dtype=None, mask=None) -> Tensor:
        self.check_prior_mask(n, mask)  # no maskable positions: only None passes
        return self.prior.sample(n, generator=generator, device=device, dtype=dtype)

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        self.check_mask(x, mask)
        return self.prior.log_prob(x)

    def random_uniform(self, n, *, generator=None, device=None, dtype=None) -> Tensor:
        """Exact uniform samples (compact manifolds); NotImplementedError elsewhere."""
        if self.kind.uniform is None:
            raise NotImplementedError(
                f"{type(self.manifold).__name__}: no exact uniform sampler (infinite volume "
                "or none known)"
            )
        return self.kind.uniform.sample(n, generator=generator, device=device, dtype=dtype)

    # -- geometry (delegated; metric = scale^2 * the base manifold's) ----------------------
    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        if not self._has["expmap"]:
            return self._base.retr(x, v)
        return self._base.expmap(x, v)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        if not self._has["logmap"]:
            raise NotImplementedError(
                f"GeooptSpace: geoopt's {type(self.manifold).__name__} has no logmap"
            )
        return self._base.logmap(x, y)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        """Tangent projection; canonical Stiefel uses v - x sym(x^T v).

        geoopt's ``CanonicalStiefel.proju`` is its gradient conversion v - x v^T x, which
        is not idempotent on tangent vectors (it doubles the x A part), so the orthogonal
        projection of the embedded Stiefel manifold (same tangent spaces) is used instead.
        """
        if self.kind.canonical_stiefel:
            xtv = x.transpose(-1, -2) @ v
            return v - x @ (0.5 * (xtv + xtv.transpose(-1, -2)))
        return self._base.proju(x, v)

    def projx(self, x: Tensor) -> Tensor:
        return self._base.projx(x)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """<u, v>_x, shape ``batch_shape``.

        Called with ``keepdim=True`` and flattened: geoopt 0.5.1's stereographic inner with
        ``keepdim=False`` broadcasts lambda_x of shape (n,) against (n,) into (n, n).
        """
        out = self._base.inner(x, u, v, keepdim=True)
        out = out.flatten(start_dim=out.dim() - self.event_ndim).squeeze(-1)
        return out if self._scale == 1.0 else self._scale**2 * out

    def log_volume_drift(self, x: Tensor, v: Tensor) -> Tensor | None:
        """<grad log sqrt(det G), v> for the chart metrics that need it (likelihood).

        Stereographic / Poincare ball (conformal, lambda = 2 / (1 + k |x|^2)):
        sqrt(det G) = lambda^d, so the term is -d k lambda <x, v>. SPD with the
        affine-invariant metric: sqrt(det G) ~ det(X)^{-(n+1)/2}, so the term is
        -(n+1)/2 tr(X^{-1} V). Products: the sum over their parts; a constant metric
        scale does not change it. Other manifolds: None (embedded, with the projection as
        ``log_differential``).
        """
        drift = self.kind.drift
        return None if drift is None else drift(x, v)

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        if not self._has["dist"]:
            raise NotImplementedError(
                f"GeooptSpace: geoopt's {type(self.manifold).__name__} has no geodesic distance"
            )
        d = self._base.dist(x, y)
        return d if self._scale == 1.0 else self._scale * d

    def point_error(self, x: Tensor) -> Tensor:
        """|x - projx(x)| / max(1, |x|) over the event dims (SPD: + max(0, -min eigenvalue)).

        Relative to the point's size so that float32 rounding of large SPD matrices (error
        ~ eps |x|) is not mistaken for leaving the manifold.
        """
        flat = x.flatten(start_dim=x.dim() - self.event_ndim)
        diff = flat - self.projx(x).flatten(start_dim=x.dim() - self.event_ndim)
        err = diff.norm(dim=-1) / flat.norm(dim=-1).clamp_min(1)
        if self.kind.extra_error is not None:
            err = err + self.kind.extra_error(x)
        return err

    # -- path ------------------------------------------------------------------------------
    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """(gamma(s), gamma'(s)) by the strategy ``self.path_kind`` (see module docstring)."""
        if self.path_kind == "spd":
            return self._interpolate_spd(x0.detach(), x1.detach(), s)
        if self.path_kind == "transport":
            v = self._base.logmap(x0, x1)
            x_s = self._base.expmap(x0, pad_time(s, self.event_ndim) * v)
            return x_s, self._base.transp(x0, x_s, v)
        if self.path_kind == "projected":
            if self.kind.polar:
                return self._interpolate_polar(x0.detach(), x1.detach(), s)
            return self._interpolate_jvp(x0, x1, s)
        return super().interpolate(x0, x1, s)

    @staticmethod
    def _interpolate_spd(x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        lam, q0 = torch.linalg.eigh(x0)
        lam = lam.clamp_min(torch.finfo(x0.dtype).tiny)
        sq = (q0 * lam.sqrt().unsqueeze(-2)) @ q0.transpose(-1, -2)
        isq = (q0 * lam.rsqrt().unsqueeze(-2)) @ q0.transpose(-1, -2)
        m = isq @ x1 @ isq
        mu, q = torch.linalg.eigh(0.5 * (m + m.transpose(-1, -2)))
        logm = torch.log(mu.clamp_min(torch.finfo(x0.dtype).tiny))
        pw = torch.exp(s.unsqueeze(-1) * logm)
        qt = q.transpose(-1, -2)
        x_s = sq @ ((q * pw.unsqueeze(-2)) @ qt) @ sq
        vel = sq @ ((q * (logm * pw).unsqueeze(-2)) @ qt) @ sq
        sym = 0.5 * (x_s + x_s.transpose(-1, -2))
        return sym, 0.5 * (vel + vel.transpose(-1, -2))

    @staticmethod
    def _interpolate_polar(x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        s_pad = s.reshape((*s.shape, 1, 1))
        a = (1 - s_pad) * x0 + s_pad * x1
        da = x1 - x0
        sig2, v = torch.linalg.eigh(a.transpose(-1, -2) @ a)
        sig = sig2.clamp_min(torch.finfo(a.dtype).eps).sqrt()
        inv = 1.0 / sig
        vt = v.transpose(-1, -2)
        u = (a @ v) * inv.unsqueeze(-2)
        q = u @ vt
        m = u.transpose(-1, -2) @ da @ v
        sm = sig.unsqueeze(-1) * m
        num = sm + sm.transpose(-1, -2)
        dp = num / (sig.unsqueeze(-1) + sig.unsqueeze(-2))
        dq = ((da @ v - u @ dp) * inv.unsqueeze(-2)) @ vt
        return q, dq

    def _projected_line(self, s: Tensor, x0: Tensor, x1: Tensor) -> Tensor:
        s_pad = pad_time(s, self.event_ndim)
        return self.projx((1 - s_pad) * x0 + s_pad * x1)

    def _interpolate_jvp(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        return torch.func.jvp(
            self._projected_line,
            (s, x0, x1),
            (torch.ones_like(s), torch.zeros_like(x0), torch.zeros_like(x1)),
        )

    def __repr__(self) -> str:
        return (
            f"GeooptSpace({self.manifold!r}, event_shape={tuple(self.event_shape)}, "
            f"prior={self.prior!r})"
        )
