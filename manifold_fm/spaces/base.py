"""The Space contract: everything that depends on where the data lives.

The trainer, samplers, likelihood, couplings and benchmarks are written once against
:class:`Space`; a new geometry only implements this interface (and can check itself with
:func:`manifold_fm.testing.check_space`).

Two layers:

* :class:`Space` is the minimal contract (continuous or discrete): prior, training pair,
  loss, one sampling step, validation.
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
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from manifold_fm.errors import check_finite, check_shape_suffix
from manifold_fm.schedules import KappaSchedule, as_kappa_schedule

__all__ = ["ManifoldSpace", "PathSample", "Space"]


@dataclass
class PathSample:
    """One training pair drawn from a conditional probability path.

    Attributes:
        x_t: point on the path at time ``t``, shape ``batch_shape + event_shape``.
        target: what the model should output at ``(x_t, t)``: a tangent vector at ``x_t``
            for continuous spaces (same shape as the space's tangent representation), the
            clean tokens ``x1`` for discrete spaces.
        t: times, shape ``batch_shape``.
        x0: source points (kept for diagnostics and couplings).
        x1: data points.
        mask: optional boolean mask of shape ``batch_shape + event_shape[:mask_ndim]``
            (True = real position, False = padding); padded positions carry no loss.
        extras: space-specific fields; the trainer never reads them, only the space's own
            ``loss`` does.
    """

    x_t: Any
    target: Any
    t: Tensor
    x0: Any = None
    x1: Any = None
    mask: Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def time_like(t: Tensor | float, batch_shape: torch.Size, ref: Tensor) -> Tensor:
    """Return ``t`` as a tensor of shape ``batch_shape`` on ``ref``'s device and dtype.

    Accepts a Python float, a 0-d tensor, or a tensor broadcastable to ``batch_shape``.
    """
    t = torch.as_tensor(t, device=ref.device, dtype=ref.dtype)
    try:
        return t.expand(batch_shape) if t.shape != batch_shape else t
    except RuntimeError as err:
        raise ValueError(
            f"time tensor of shape {tuple(t.shape)} does not broadcast to the batch shape "
            f"{tuple(batch_shape)}"
        ) from err


def pad_time(t: Tensor, event_ndim: int) -> Tensor:
    """Append ``event_ndim`` singleton dims so ``t`` broadcasts against points."""
    return t.reshape(t.shape + (1,) * event_ndim)


class Space(abc.ABC):
    """Abstract data space for flow matching.

    Subclasses set ``event_shape`` (shape of one point) and implement the six methods
    below. The model is any ``nn.Module`` called as ``model(x_t, t, **cond)``; what its
    output means (tangent vector, Lie-algebra coordinates, logits) is for the space to say
    through :meth:`loss` and :meth:`step`.
    """

    event_shape: torch.Size
    #: number of leading event dims a padding mask covers (0: masks are not supported)
    mask_ndim: int = 0
    #: points are integer ids (tokens); a product stores them as floats and casts back
    integer_points: bool = False
    #: methods :func:`manifold_fm.solvers.sample` may use on this space; ``"adaptive"``
    #: stands for every torchdiffeq method (dopri5, ...). Plain spaces: their own step only.
    sampling_methods: tuple[str, ...] = ("euler",)

    @property
    def output_shape(self) -> torch.Size:
        """Shape of one model output (tangent vector, Lie-algebra coordinates, logits)."""
        return self.event_shape

    def check_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """Validate a padding mask for points ``x``; return it as a bool tensor (or None)."""
        if mask is None:
            return None
        name = type(self).__name__
        if self.mask_ndim == 0:
            raise ValueError(
                f"{name} has no maskable positions; got a mask of shape "
                f"{tuple(mask.shape)} (pass mask=None)"
            )
        want = self.batch_shape(x) + self.event_shape[: self.mask_ndim]
        if tuple(mask.shape) != tuple(want):
            raise ValueError(
                f"{name}: mask must have shape {tuple(want)} for points of shape "
                f"{tuple(x.shape)}, got {tuple(mask.shape)}"
            )
        return mask.to(torch.bool)

    @property
    def event_ndim(self) -> int:
        """Number of trailing dimensions that make up one point."""
        return len(self.event_shape)

    def batch_shape(self, x: Tensor) -> torch.Size:
        """Leading (batch) shape of a tensor of points."""
        return x.shape[: x.dim() - self.event_ndim]

    @abc.abstractmethod
    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Draw ``n`` points from the source distribution p0, shape ``(n, *event_shape)``."""

    @abc.abstractmethod
    def log_prior(self, x: Tensor) -> Tensor:
        """Log density (continuous, w.r.t. the Riemannian volume) or log pmf of p0 at ``x``."""

    @abc.abstractmethod
    def path(self, x0: Tensor, x1: Tensor, t: Tensor, *, mask: Tensor | None = None) -> PathSample:
        """Sample the conditional path between ``x0`` and ``x1`` at times ``t``.

        ``mask`` (spaces with ``mask_ndim > 0``) marks real positions; padded ones stay put.
        """

    @abc.abstractmethod
    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """Per-example loss of a model output against ``sample``, shape ``batch_shape``."""

    @abc.abstractmethod
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
        """Advance points ``x`` at time ``t`` by ``dt`` driven by the model ``output``.

        ``mask`` keeps padded positions fixed; ``generator`` seeds stochastic steps (CTMC).
        """

    @abc.abstractmethod
    def validate(self, x: Tensor) -> None:
        """Raise ``ValueError`` naming the first offending row and why ``x`` is invalid."""

    def guide(self, cond_output: Tensor, uncond_output: Tensor, scale: float) -> Tensor:
        """Classifier-free guidance: combine conditional and unconditional model outputs.

        out = uncond + scale * (cond - uncond); scale = 1 is the conditional model. Spaces
        whose outputs are not additive (for example logits) override this.
        """
        return uncond_output + scale * (cond_output - uncond_output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_shape={tuple(self.event_shape)})"


class ManifoldSpace(Space):
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
    ``x_{t+dt} = exp_x(dt * output)``.
    """

    dim: int
    #: smallest value of ``1 - kappa`` used by the generic logmap target
    eps_t: float = 1e-5
    #: the geometric fixed-step solvers and the adaptive ambient ODE all apply
    sampling_methods: tuple[str, ...] = ("euler", "midpoint", "rk4", "adaptive")
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

    def transport(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """Carry a tangent vector ``v`` at ``y`` to the tangent space at ``x``.

        Used by the geometric midpoint/RK4 solvers to combine stage velocities at the step's
        base point. Default: orthogonal projection (exact to first order for embedded
        manifolds). Lie groups with left-trivialised tangents override it with the identity.
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

        Returns shape ``batch_shape + (dim,) + tangent_shape``: ``b[..., i, :]`` with
        ``<b_i, b_j>_x = delta_ij``. Generic version: project the ambient basis e_k of the
        tangent representation with ``proju``, form the Gram matrix G_kl = <P e_k, P e_l>_x,
        and keep the top-``dim`` eigenpairs (G = U L U^T): b_j = sum_k U_kj P e_k / sqrt(L_j).
        This is orthonormal for any metric given by ``inner`` (conformal ones included).
        Spaces with a closed form override it.
        """
        tshape = tuple(self.tangent_shape)
        big = math.prod(tshape)
        batch = tuple(self.batch_shape(x))
        nb = len(batch)
        eye = torch.eye(big, device=x.device, dtype=x.dtype).reshape(big, *tshape)
        xe = x.unsqueeze(nb).expand(*batch, big, *self.event_shape)
        p = self.proju(xe, eye.expand(*batch, big, *tshape))
        xg = x.reshape(*batch, 1, 1, *self.event_shape).expand(*batch, big, big, *self.event_shape)
        gram = self.inner(xg, p.unsqueeze(nb + 1), p.unsqueeze(nb))
        evals, evecs = torch.linalg.eigh(gram)
        lam = evals[..., big - self.dim :].clamp_min(torch.finfo(x.dtype).tiny)
        coef = (evecs[..., big - self.dim :] / lam.sqrt().unsqueeze(-2)).transpose(-1, -2)
        basis = coef @ p.reshape(*batch, big, big)
        return basis.reshape(*batch, self.dim, *tshape)

    def log_volume_drift(self, x: Tensor, v: Tensor) -> Tensor | None:
        """<grad log sqrt(det G)(x), v> in the point chart, or None where it is not needed.

        The likelihood's divergence (:mod:`manifold_fm.divergence`) differentiates
        ``transport``-ed fields; when ``transport`` is not the Levi-Civita transport of a
        non-flat chart metric (open subsets of R^N with a metric G(x): the Poincare ball,
        SPD), div_g v = div_chart v + <grad log sqrt(det G), v>, and this hook supplies the
        second term in closed form. None (the default): no correction (flat charts,
        embedded manifolds with the induced metric and projection transport, Lie groups with
        left-trivialised tangents and a bi-invariant metric).
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

    def path(self, x0: Tensor, x1: Tensor, t: Tensor, *, mask: Tensor | None = None) -> PathSample:
        """Geodesic conditional path: x_t = gamma(kappa_t), u_t = kappa'_t gamma'(kappa_t)."""
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
        """Exponential-map Euler step: x' = projx(exp_x(dt * proju(x, v))).

        The final ``projx`` is idempotent on the manifold and removes rounding drift, so
        states stay on the manifold over thousands of steps.
        """
        self.check_mask(x, mask)
        dt = torch.as_tensor(dt, device=x.device, dtype=x.dtype)
        if dt.dim() > 0:
            dt = pad_time(dt, len(self.tangent_shape))
        return self.projx(self.expmap(x, dt * self.proju(x, output)))

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
