"""SO(3): rotation matrices with body-frame rotation vectors as tangent coordinates.

Points are 3x3 rotation matrices (``event_shape = (3, 3)``). A tangent vector at R is
stored as its body-frame rotation vector w in R^3 (``tangent_shape = (3,)``): the ambient
tangent is R hat(w). With this left trivialisation

* exp_R(w) = R Exp(w), log_R(S) = Log(R^T S), proju(R, w) = w; the derivative of log,
  d(log_R)_S [v] = J_r^{-1}(Log(R^T S)) v (``log_differential``);
* inner(R, u, v) = u . v: the bi-invariant metric whose geodesic distance is the rotation
  angle of R^T S, in [0, pi]; total volume 8 pi^2;
* the geodesic from R0 to R1 is gamma(s) = R0 Exp(s w), w = Log(R0^T R1), with constant
  body velocity gamma'(s) = w, so the path target is kappa'(t) w (bounded by kappa' pi).

Priors: ``"uniform"`` (Haar, density 1 / (8 pi^2), :class:`~manifold_fm.lie.haar.HaarSO3`)
or ``"igso3"`` (IGSO3(sigma) at the identity, :class:`~manifold_fm.lie.igso3.IGSO3`); the
space holds the chosen :class:`~manifold_fm.priors.Prior` object as ``prior`` and draws
and scores through it. ``projx`` is the exact nearest rotation (SVD);
``retract`` (used by every sampling step after R Exp(dt w)) is one Newton-Schulz polish, which
removes float rounding drift without an SVD (see
:func:`~manifold_fm.lie.rotations.polish_rotation`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm.lie.haar import HaarSO3
from manifold_fm.lie.igso3 import IGSO3
from manifold_fm.lie.rotations import (
    hat,
    matrix_to_quat,
    nearest_rotation,
    polish_rotation,
    quat_to_matrix,
    random_rotation,
    rotation_angle,
    so3_exp,
    so3_log,
    vee,
)
from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import ManifoldSpace, pad_time

__all__ = ["SO3"]

_EYE_CACHE: dict[tuple[torch.device, torch.dtype], Tensor] = {}


def _eye(ref: Tensor) -> Tensor:
    key = (ref.device, ref.dtype)
    if key not in _EYE_CACHE:
        _EYE_CACHE[key] = torch.eye(3, device=ref.device, dtype=ref.dtype)
    return _EYE_CACHE[key]


class SO3(ManifoldSpace):
    """The rotation group SO(3) with the angle metric.

    Args:
        schedule: kappa schedule of the geodesic path (default linear).
        prior: ``"uniform"`` (Haar) or ``"igso3"``; stored as the Prior object
            :attr:`prior` (:class:`~manifold_fm.lie.haar.HaarSO3` or
            :class:`~manifold_fm.lie.igso3.IGSO3`).
        sigma: IGSO3 scale when ``prior="igso3"`` (FrameFlow uses 1.5).
    """

    dim = 3
    event_shape = torch.Size((3, 3))
    has_uniform = True

    def __init__(
        self,
        schedule: KappaSchedule | str | None = None,
        prior: str = "uniform",
        sigma: float = 1.5,
    ) -> None:
        super().__init__(schedule)
        if prior not in ("uniform", "igso3"):
            raise ValueError(f"SO3: prior must be 'uniform' or 'igso3', got {prior!r}")
        #: the source distribution, a :class:`~manifold_fm.priors.Prior`
        self.prior: HaarSO3 | IGSO3 = IGSO3(sigma) if prior == "igso3" else HaarSO3()

    @property
    def tangent_shape(self) -> torch.Size:
        return torch.Size((3,))

    @property
    def volume(self) -> float:
        return 8 * math.pi**2

    # -- conversions (thin aliases of manifold_fm.lie) --------------------------------
    @staticmethod
    def from_quat(q: Tensor) -> Tensor:
        """Rotation matrices of quaternions (x, y, z, w), any norm. ``(..., 4) -> (..., 3, 3)``."""
        return quat_to_matrix(q)

    @staticmethod
    def to_quat(r: Tensor) -> Tensor:
        """Unit quaternions (x, y, z, w), w >= 0. ``(..., 3, 3) -> (..., 4)``."""
        return matrix_to_quat(r)

    @staticmethod
    def from_rotvec(w: Tensor) -> Tensor:
        """Exp(w) of rotation vectors. ``(..., 3) -> (..., 3, 3)``."""
        return so3_exp(w)

    @staticmethod
    def to_rotvec(r: Tensor) -> Tensor:
        """Log(R), angle in [0, pi]. ``(..., 3, 3) -> (..., 3)``."""
        return so3_log(r)

    # -- prior ----------------------------------------------------------------------
    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``n`` rotations from the prior (Haar or IGSO3(sigma)), shape ``(n, 3, 3)``.

        No maskable positions: ``mask`` must be None (ValueError otherwise).
        """
        self.check_prior_mask(n, mask)
        return self.prior.sample(n, generator=generator, device=device, dtype=dtype)

    def random_uniform(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """``n`` Haar-uniform rotations (normalised Gaussian quaternions), ``(n, 3, 3)``."""
        return random_rotation(n, generator=generator, device=device, dtype=dtype)

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        """log density w.r.t. the Riemannian volume: -log(8 pi^2) (uniform) or IGSO3.

        No maskable positions: ``mask`` must be None (ValueError otherwise).
        """
        self.check_mask(x, mask)
        return self.prior.log_prob(x)

    # -- geometry -------------------------------------------------------------------
    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        """exp_R(w) = R Exp(w). ``(..., 3, 3), (..., 3) -> (..., 3, 3)``."""
        return x @ so3_exp(v)

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        """log_R(S) = Log(R^T S), body rotation vector of norm <= pi. ``-> (..., 3)``."""
        return so3_log(x.transpose(-1, -2) @ y)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        """Identity: outputs are already Lie-algebra (body) coordinates ``(..., 3)``."""
        if v.shape[-1:] != (3,) or (v.dim() == x.dim() and v.shape[-2:] == (3, 3)):
            raise ValueError(
                f"SO3: tangent vectors are body rotation vectors of shape (..., 3), got "
                f"{tuple(v.shape)} (use from_ambient_velocity for ambient 3x3 velocities)"
            )
        return v

    def projx(self, x: Tensor) -> Tensor:
        """Nearest rotation matrix (SVD, special Procrustes)."""
        return nearest_rotation(x)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        return (u * v).sum(-1)

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        """Rotation angle of R^T S in [0, pi]."""
        return rotation_angle(x.transpose(-1, -2) @ y)

    def point_error(self, x: Tensor) -> Tensor:
        """max(max |R^T R - I|, |det R - 1|), shape ``batch_shape``."""
        orth = (x.transpose(-1, -2) @ x - _eye(x)).abs().amax((-1, -2))
        return torch.maximum(orth, (torch.det(x) - 1).abs())

    def tangent_error(self, x: Tensor, v: Tensor) -> Tensor:
        """Always 0 for (..., 3) vectors (every body vector is tangent)."""
        self.proju(x, v)
        return torch.zeros(v.shape[:-1], device=v.device, dtype=v.dtype)

    def log_differential(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """J_r^{-1}(u) v with u = Log(R^T S): body velocity at S in log_R coordinates.

        From d/ds Exp(u) = Exp(u) hat(J_r(u) u'):
        J_r^{-1}(u) v = v + u x v / 2 + c(theta) u x (u x v),
        c = (1 - (theta / 2) cot(theta / 2)) / theta^2 (its series below theta = 0.1).
        """
        u = self.logmap(x, y)
        th2 = (u * u).sum(-1, keepdim=True)
        small = th2 < 1e-2
        th = th2.clamp_min(1e-2).sqrt()
        exact = (1 - 0.5 * th / torch.tan(0.5 * th)) / th**2
        c = torch.where(small, 1 / 12 + th2 / 720 + th2 * th2 / 30240, exact)
        uv = torch.linalg.cross(u, v, dim=-1)
        return v + 0.5 * uv + c * torch.linalg.cross(u, uv, dim=-1)

    def to_ambient_velocity(self, x: Tensor, v: Tensor) -> Tensor:
        """dR/dt = R hat(w). ``-> (..., 3, 3)``."""
        return x @ hat(v)

    def from_ambient_velocity(self, x: Tensor, dx: Tensor) -> Tensor:
        """w = vee(skew(R^T dR)). ``(..., 3, 3) -> (..., 3)``."""
        return vee(x.transpose(-1, -2) @ dx)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """gamma(s) = R0 Exp(s w), gamma'(s) = w (body frame), w = Log(R0^T R1)."""
        w = self.logmap(x0, x1)
        return x0 @ so3_exp(pad_time(s, 1) * w), w

    def retract(self, x: Tensor) -> Tensor:
        """One Newton-Schulz polish: removes rounding drift without an SVD."""
        return polish_rotation(x)

    def scale_rotation(self, output: Tensor, factor: Tensor) -> Tensor:
        """Body rotation vectors ``(n, ..., 3)`` times ``factor`` ``(n,)``.

        Makes SO3 a :class:`~manifold_fm.spaces.rotational.RotationalSpace`.
        """
        return output * factor.reshape(factor.shape + (1,) * (output.dim() - factor.dim()))

    def __repr__(self) -> str:
        igso3 = isinstance(self.prior, IGSO3)
        extra = f", prior='igso3', sigma={self.prior.sigma:g}" if igso3 else ""
        return f"SO3(schedule={self.schedule!r}{extra})"
