"""The Space contract: everything that depends on where the data lives.

The trainer, samplers, likelihood, couplings and benchmarks are written once against
:class:`Space`; a new geometry only implements this interface (and can check itself with
:func:`manifold_fm.testing.check_space`).

Two layers:

* :class:`Space` (defined in :mod:`manifold_fm.spaces.contract`, re-exported here) is the
  minimal contract (continuous or discrete): prior, training pair, loss, one sampling
  step, validation.
* :class:`ManifoldSpace` is the continuous Riemannian case. It adds the usual geometry
  (``expmap``, ``logmap``, ``proju``, ``projx``, ``inner``, ``dist``) and derives the
  geodesic path, the metric-aware loss and the exponential-map step from it.

Shapes: a point batch has shape ``batch_shape + event_shape``; times ``t`` have shape
``batch_shape`` (or are broadcastable scalars); losses and log densities have shape
``batch_shape``.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import Tensor

from manifold_fm.errors import check_finite, check_shape_suffix
from manifold_fm.schedules import KappaSchedule, as_kappa_schedule
from manifold_fm.spaces.contract import PathSample, Space, pad_time, time_like
from manifold_fm.spaces.tangent_basis import gram_tangent_basis
from manifold_fm.spaces.x1_param import X1Parametrization

__all__ = ["ManifoldSpace", "PathSample", "Space", "pad_time", "time_like"]


class ManifoldSpace(X1Parametrization, Space):
    """A Riemannian manifold with the geodesic conditional path.

    Points are stored in an ambient representation of shape ``event_shape``; tangent
    vectors have shape ``tangent_shape`` (equal to ``event_shape`` for embedded manifolds).

    Path (Chen & Lipman 2024), with a schedule kappa(t), kappa(0)=0, kappa(1)=1::

        x_t = exp_{x0}(kappa_t log_{x0} x1)
        u_t = d/dt x_t = kappa'_t * gamma'(kappa_t)
            = kappa'_t / (1 - kappa_t) * log_{x_t} x1          (t < 1)

    where gamma(s) = exp_{x0}(s log_{x0} x1) is the unit-time geodesic. Subclasses give
    ``gamma'(s)`` in closed form through :meth:`interpolate`, so the target stays bounded
    by ``sup kappa' * dist(x0, x1)`` all the way to t = 1. The generic fallback uses the
    logmap form with ``1 - kappa_t`` clamped below by ``eps_t`` (documented bound:
    ``|u_t| <= kappa'_t * dist(x_t, x1) / max(1 - kappa_t, eps_t)``).

    Loss: squared Riemannian norm ``|output - target|^2_{x_t}``. Step: exponential map
    ``x_{t+dt} = retract(exp_x(dt * output))``.
    """

    dim: int
    #: smallest value of ``1 - kappa`` used by the generic logmap target
    eps_t: float = 1e-5
    #: :meth:`random_uniform` draws exactly from the normalised volume measure
    has_uniform: bool = False

    def __init__(self, schedule: KappaSchedule | str | None = None) -> None:
        self.schedule = as_kappa_schedule(schedule)

    # -- geometry every manifold provides -------------------------------------------
    @property
    def tangent_shape(self) -> torch.Size:
        """Shape of one tangent vector (defaults to ``event_shape``)."""
        return self.event_shape

    @abc.abstractmethod
    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        """Exponential map exp_x(v)."""

    @abc.abstractmethod
    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        """Logarithm map log_x(y), the inverse of exp_x near x."""

    @abc.abstractmethod
    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        """Project an ambient vector onto the tangent space at x."""

    @abc.abstractmethod
    def projx(self, x: Tensor) -> Tensor:
        """Project an ambient point onto the manifold."""

    @abc.abstractmethod
    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """Riemannian inner product <u, v>_x, shape ``batch_shape``."""

    @abc.abstractmethod
    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        """Geodesic distance, shape ``batch_shape``."""

    @abc.abstractmethod
    def point_error(self, x: Tensor) -> Tensor:
        """How far each point is from the manifold (0 on it), shape ``batch_shape``."""

    def tangent_error(self, x: Tensor, v: Tensor) -> Tensor:
        """How far ``v`` is from the tangent space at ``x`` (0 if tangent), ``batch_shape``."""
        diff = v - self.proju(x, v)
        return diff.flatten(start_dim=diff.dim() - len(self.tangent_shape)).norm(dim=-1)

    def norm(self, x: Tensor, v: Tensor) -> Tensor:
        """Riemannian norm |v|_x, shape ``batch_shape``."""
        return self.inner(x, v, v).clamp_min(0).sqrt()

    def log_differential(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """The derivative of the log map: d(log_x)_y [v], a tangent vector at ``x``.

        The linear map d(log_x)_y : T_y M -> T_x M, the differential of y' -> log_x(y') at
        the point ``y``, applied to a tangent vector ``v`` at ``y``: if c(s) is a curve with
        c(0) = y and c'(0) = v, the result is d/ds log_x(c(s)) at s = 0, the velocity of
        the curve in the normal coordinates centred at ``x``. Shapes: ``x``, ``y``
        ``batch + event_shape``; ``v`` and the result ``batch + tangent_shape`` (in the
        space's tangent representation, e.g. body rotation vectors on SO(3)). At y = x it
        is the identity, and it differs from parallel transport along the geodesic from
        y to x only at second order in dist(x, y).

        The one hook both users of a "carry v at y back to x" map call:

        * the geometric midpoint / RK4 steps (:mod:`manifold_fm.solvers.fixed`) carry
          their stage velocities to the step's base point with it
          (Runge-Kutta-Munthe-Kaas), which keeps RK4 fourth order where it is exact;
        * the divergence (:mod:`manifold_fm.solvers.divergence`) differentiates
          d(log_x)_{exp_x(u)} [v(exp_x(u))] at u = 0. Normal coordinates have a volume
          density with zero gradient at their centre, so this is the exact Riemannian
          divergence; any map that agrees with it to first order in u gives the same
          value (the default below).

        Default: the orthogonal projection ``proju(x, v)``, which agrees with d(log_x)_y
        to first order for an embedded manifold with the induced metric (exact for the
        divergence; RK4 drops to second order). Sphere, SO(3), SE(3) and products of them
        give the closed form.
        """
        return self.proju(x, v)

    def to_ambient_velocity(self, x: Tensor, v: Tensor) -> Tensor:
        """Ambient time derivative dx/dt of a point moving with tangent ``v``.

        Equal to ``v`` for embedded manifolds; Lie groups map Lie-algebra coordinates to
        the ambient matrix derivative. Used by the adaptive (torchdiffeq) solver.
        """
        return v

    def from_ambient_velocity(self, x: Tensor, dx: Tensor) -> Tensor:
        """Inverse of :meth:`to_ambient_velocity` after tangent projection."""
        return self.proju(x, dx)

    def tangent_basis(self, x: Tensor) -> Tensor:
        """Orthonormal basis of the tangent space at ``x`` w.r.t. :meth:`inner`.

        Shape ``batch_shape + (dim,) + tangent_shape``, ``<b_i, b_j>_x = delta_ij``. Generic
        version: :func:`~manifold_fm.spaces.tangent_basis.gram_tangent_basis`; spaces with a
        closed form override it.
        """
        return gram_tangent_basis(self, x)

    def log_volume_drift(self, x: Tensor, v: Tensor) -> Tensor | None:
        """<grad log sqrt(det G)(x), v> in the point chart, or None where it is not needed.

        The likelihood's divergence (:mod:`manifold_fm.solvers.divergence`) differentiates
        fields carried back by :meth:`log_differential`; when that is not first-order exact
        for a non-flat chart metric (open subsets of R^N with a metric G(x) and the default
        identity-like projection: the Poincare ball, SPD), div_g v = div_chart v +
        <grad log sqrt(det G), v>, and this hook supplies the second term in closed form.
        None (the default): no correction (flat charts, embedded manifolds with the induced
        metric, spaces whose :meth:`log_differential` is the closed form).
        """
        return None

    @property
    def volume(self) -> float:
        """Riemannian volume of the manifold (``math.inf`` if not finite)."""
        return math.inf

    def random_uniform(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """``n`` exact draws from vol / volume, shape ``(n, *event_shape)``.

        Spaces that set ``has_uniform = True`` override it; the default raises
        NotImplementedError naming the space.
        """
        raise NotImplementedError(f"{self!r} declares no exact uniform sampler (has_uniform)")

    # -- the geodesic path ------------------------------------------------------------
    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """Point and velocity of the unit-time geodesic gamma from x0 to x1 at fraction s.

        Returns ``(gamma(s), gamma'(s))`` with ``gamma(s) = exp_{x0}(s log_{x0} x1)``.
        ``s`` has shape ``batch_shape``. The generic version uses
        ``gamma'(s) = log_{gamma(s)}(x1) / (1 - s)`` with ``1 - s >= eps_t``; subclasses
        override it with a closed form valid at s = 1.
        """
        v = self.logmap(x0, x1)
        s_pad = pad_time(s, len(self.tangent_shape))
        x_s = self.expmap(x0, s_pad * v)
        denom = pad_time((1 - s).clamp_min(self.eps_t), len(self.tangent_shape))
        return x_s, self.logmap(x_s, x1) / denom

    @property
    def output_shape(self) -> torch.Size:
        return self.tangent_shape

    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: Tensor | None = None,
    ) -> PathSample:
        """Geodesic conditional path: x_t = gamma(kappa_t), u_t = kappa'_t gamma'(kappa_t).

        Deterministic given (x0, x1, t): ``generator`` is accepted and unused.
        """
        self.check_mask(x1, mask)
        t = time_like(t, self.batch_shape(x1), x1)
        kappa, dkappa = self.schedule(t)
        x_t, velocity = self.interpolate(x0, x1, kappa)
        target = pad_time(dkappa, len(self.tangent_shape)) * velocity
        return PathSample(x_t=x_t, target=target, t=t, x0=x0, x1=x1)

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """Squared Riemannian norm of (output - target) at x_t, shape ``batch_shape``."""
        diff = output - sample.target
        return self.inner(sample.x_t, diff, diff)

    def retract(self, x: Tensor) -> Tensor:
        """Put a point that rounding moved slightly off the manifold back on it.

        Called by :meth:`step` after every exponential map. Default: :meth:`projx`
        (idempotent on the manifold). Spaces with a cheaper polish override it.
        """
        return self.projx(x)

    def proju_masked(self, x: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """Tangent projection of ``v`` at ``x`` for the real positions of ``mask``.

        Default: :meth:`proju` (padded positions are restored by :meth:`step` anyway).
        Spaces whose tangent constraint couples positions (SE(3)'s zero centre of mass)
        restrict it to the real ones.
        """
        return self.proju(x, v)

    def step(
        self,
        x: Tensor,
        output: Tensor,
        t: Tensor | float,
        dt: Tensor | float,
        *,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Exponential-map Euler step: x' = retract(exp_x(dt * proju(x, v))).

        ``x``: ``batch + event_shape``; ``output`` v: ``batch + tangent_shape``; ``dt``:
        scalar or ``batch``. ``retract`` removes rounding drift; padded positions (``mask``
        False) come back bit-for-bit. Geometry only: sampler policies act on the field.
        """
        mask = self.check_mask(x, mask)
        tshape = tuple(self.tangent_shape)
        if tuple(output.shape[output.dim() - len(tshape) :]) != tshape:
            raise ValueError(
                f"{type(self).__name__}.step: output must have trailing shape {tshape}, "
                f"got {tuple(output.shape)}"
            )
        dt = torch.as_tensor(dt, device=x.device, dtype=x.dtype)
        if dt.dim() > 0:
            dt = pad_time(dt, len(tshape))
        y = self.retract(self.expmap(x, dt * self.proju_masked(x, output, mask)))
        if mask is None:
            return y
        keep = mask.reshape(mask.shape + (1,) * (self.event_ndim - self.mask_ndim))
        return torch.where(keep, y, x)

    # -- validation -----------------------------------------------------------------
    #: tolerance of :meth:`validate` for float64 / float32 (scaled for half precision)
    atol64: float = 1e-8
    atol32: float = 1e-4

    def tolerance(self, dtype: torch.dtype) -> float:
        """Default on-manifold tolerance for a dtype."""
        return self.atol64 if dtype == torch.float64 else self.atol32

    def validate(self, x: Tensor, atol: float | None = None) -> None:
        """Check shape, dtype, finiteness and on-manifold-ness; raise ValueError if not."""
        name = type(self).__name__
        check_shape_suffix(x, self.event_shape, name)
        if not x.is_floating_point():
            raise ValueError(f"{name}: points must be floating point, got dtype {x.dtype}")
        check_finite(x, self.event_ndim, name)
        err = self.point_error(x).reshape(-1)
        tol = self.tolerance(x.dtype) if atol is None else atol
        bad = (err > tol).nonzero()
        if bad.numel():
            i = int(bad[0, 0])
            raise ValueError(
                f"{name}: row {i} is off the manifold by {float(err[i]):.3e} "
                f"(tolerance {tol:.1e}); {bad.numel()} of {err.numel()} rows are off"
            )
