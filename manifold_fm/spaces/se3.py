"""SE(3)^N residue frames: N rotations and translations in one tensor, with a residue mask.

A point is one tensor of shape ``(..., N, 3, 4)`` = [R | t] per frame (``split`` / ``join``
convert to ``(R (..., N, 3, 3), t (..., N, 3))``). Tangent vectors and model outputs have
shape ``(..., N, 6)`` = [body rotation vector w (3), translation velocity v (3)].

Geometry: the product SO(3)^N x R^{3N} (translations in the zero-centre-of-mass subspace
R^{3N}_0 when ``centered``), with the metric
<(w, v), (w', v')> = rot_weight sum_i w_i . w'_i + trans_weight sum_i v_i . v'_i.
The training loss is the same weighted squared norm of (output - target), summed over
real residues; ``trans_weight`` defaults to 1 / trans_scale^2 (translation errors in units
of the prior standard deviation).

Path (FrameFlow / FoldFlow recipe): per frame R_t = R0 Exp(kappa_t Log(R0^T R1)) with body
target kappa'_t Log(R0^T R1); translations t_t = (1 - kappa_t) t0 + kappa_t t1 with target
kappa'_t (t1 - t0). With ``centered`` both endpoints are first moved to zero centre of mass
over the real residues.

Mask (``mask_ndim = 1``): shape ``batch + (N,)``, True = real residue. Padded frames of
x_t are copied from x0 (they never move during sampling either), carry a zero target and
zero loss; centering uses real residues only; ``step`` keeps padded frames bit-for-bit.

Sampling step: the generic exponential-map step of
:class:`~manifold_fm.spaces.base.ManifoldSpace` with translation velocities centred over the
real residues (:meth:`SE3.proju_masked`) and a rotation-only Newton-Schulz polish as
``retract``. FrameFlow's rotation-rate schedule is a sampling policy on the field, not part
of the space: :class:`manifold_fm.solvers.RotationRate` (through :meth:`SE3.scale_rotation`,
which makes SE3 a :class:`~manifold_fm.spaces.rotational.RotationalSpace`).

Prior: rotations Haar (or IGSO3); translations N(0, trans_scale^2 I), projected to the
zero-CoM subspace when ``centered``. ``log_prior`` returns, per example, the sum over
real frames of -log(8 pi^2) (or the IGSO3 log density) plus the log density of the
translations w.r.t. Lebesgue measure on the subspace they live in: with n real residues
and d = 3 (n - 1) (centered) or 3 n (not centered),
log p(t) = -d/2 log(2 pi trans_scale^2) - |t_c|^2 / (2 trans_scale^2), t_c the centred
translations (the projection of an isotropic Gaussian is isotropic on the subspace). As a
density w.r.t. the weighted metric's volume, rot_weight^(3n/2) trans_weight^(d/2) Haar x
Lebesgue, ``log_prior`` also subtracts (3n/2) log rot_weight + (d/2) log trans_weight.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import ManifoldSpace, PathSample, pad_time, time_like
from manifold_fm.spaces.so3 import SO3

__all__ = ["SE3"]


class SE3(ManifoldSpace):
    """N rigid frames (rotation + translation) with a residue mask.

    Args:
        n_frames: number of frames (residues) N per example.
        centered: keep translations in the zero-centre-of-mass subspace.
        trans_scale: prior standard deviation of translations (data units; 10 for Angstrom).
        rot_weight: weight of the rotation part of the metric and loss.
        trans_weight: weight of the translation part (default 1 / trans_scale^2).
        schedule: kappa schedule of the path (default linear).
        prior: rotation prior, ``"uniform"`` or ``"igso3"`` (with ``sigma``).
        sigma: IGSO3 scale of the rotation prior.
    """

    mask_ndim = 1

    def __init__(
        self,
        n_frames: int,
        centered: bool = True,
        trans_scale: float = 10.0,
        rot_weight: float = 1.0,
        trans_weight: float | None = None,
        schedule: KappaSchedule | str | None = None,
        prior: str = "uniform",
        sigma: float = 1.5,
        **removed: object,
    ) -> None:
        super().__init__(schedule)
        if removed:  # rotation_rate is a sampling policy, not a property of the space
            raise TypeError(
                f"SE3 got unexpected keyword arguments {sorted(removed)}; the rotation-rate "
                "schedule is sample(..., policies=[manifold_fm.solvers.RotationRate(c)])"
            )
        if not isinstance(n_frames, int) or isinstance(n_frames, bool) or n_frames < 1:
            raise ValueError(f"SE3: n_frames must be an int >= 1, got {n_frames!r}")
        if not (isinstance(trans_scale, (int, float)) and 0 < trans_scale < math.inf):
            raise ValueError(f"SE3: trans_scale must be a positive number, got {trans_scale!r}")
        trans_weight = 1.0 / trans_scale**2 if trans_weight is None else trans_weight
        for name, val in (("rot_weight", rot_weight), ("trans_weight", trans_weight)):
            if not (isinstance(val, (int, float)) and 0 < val < math.inf):
                raise ValueError(f"SE3: {name} must be a positive number, got {val!r}")
        self.n_frames = n_frames
        self.centered = bool(centered)
        self.trans_scale = float(trans_scale)
        self.rot_weight = float(rot_weight)
        self.trans_weight = float(trans_weight)
        self.so3 = SO3(prior=prior, sigma=sigma)
        self.event_shape = torch.Size((n_frames, 3, 4))
        self.dim = 6 * n_frames - (3 if self.centered else 0)

    @property
    def tangent_shape(self) -> torch.Size:
        return torch.Size((self.n_frames, 6))

    @staticmethod
    def split(x: Tensor) -> tuple[Tensor, Tensor]:
        """``(..., N, 3, 4) -> (R (..., N, 3, 3), t (..., N, 3))`` (views)."""
        return x[..., :3], x[..., 3]

    @staticmethod
    def join(r: Tensor, t: Tensor) -> Tensor:
        """``(R (..., N, 3, 3), t (..., N, 3)) -> (..., N, 3, 4)``."""
        return torch.cat([r, t.unsqueeze(-1)], -1)

    def center(self, t: Tensor, mask: Tensor | None = None) -> Tensor:
        """Subtract the centre of mass of the real residues from the real residues.

        ``t``: (..., N, 3); ``mask``: (..., N) bool or None. Padded rows are returned as is.
        Identity when ``centered`` is False.
        """
        if not self.centered:
            return t
        if mask is None:
            return t - t.mean(-2, keepdim=True)
        m = mask.unsqueeze(-1).to(t.dtype)
        com = (t * m).sum(-2, keepdim=True) / m.sum(-2, keepdim=True).clamp_min(1)
        return t - com * m

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``n`` prior frames ``(n, N, 3, 4)``; translations centred over ``mask`` (n, N)."""
        mask = self.check_prior_mask(n, mask)
        r = self.so3.sample_prior(
            n * self.n_frames, generator=generator, device=device, dtype=dtype
        )
        r = r.reshape(n, self.n_frames, 3, 3)
        t = self.trans_scale * torch.randn(
            (n, self.n_frames, 3), generator=generator, device=r.device, dtype=r.dtype
        )
        if mask is not None:
            mask = mask.to(device=r.device)
        return self.join(r, self.center(t, mask))

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        """Log prior density per example (see the module docstring), shape ``batch``."""
        mask = self.check_mask(x, mask)
        r, t = self.split(x)
        t = self.center(t, mask)
        lr = self.so3.log_prior(r)
        sq = (t * t).sum(-1)
        if mask is not None:
            m = mask.to(x.dtype)
            lr, sq, n = lr * m, sq * m, m.sum(-1)
        else:
            n = torch.full(x.shape[:-3], float(self.n_frames), device=x.device, dtype=x.dtype)
        d = 3 * (n - 1) if self.centered else 3 * n
        s2 = self.trans_scale**2
        log_vol = 1.5 * n * math.log(self.rot_weight) + 0.5 * d * math.log(self.trans_weight)
        gauss = -0.5 * d * math.log(2 * math.pi * s2) - sq.sum(-1) / (2 * s2)
        return lr.sum(-1) + gauss - log_vol

    # -- geometry -------------------------------------------------------------------
    def expmap(self, x: Tensor, v: Tensor) -> Tensor:
        r, t = self.split(x)
        return self.join(self.so3.expmap(r, v[..., :3]), t + v[..., 3:])

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        (r0, t0), (r1, t1) = self.split(x), self.split(y)
        return torch.cat([self.so3.logmap(r0, r1), t1 - t0], -1)

    def proju(self, x: Tensor, v: Tensor) -> Tensor:
        """Rotation part unchanged; translation velocities centred (when ``centered``)."""
        if v.shape[-2:] != self.tangent_shape:
            raise ValueError(
                f"SE3: tangent vectors must have trailing shape {tuple(self.tangent_shape)}, "
                f"got {tuple(v.shape)}"
            )
        return torch.cat([v[..., :3], self.center(v[..., 3:])], -1)

    def proju_masked(self, x: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """:meth:`proju` with translation velocities centred over the real residues only."""
        self.proju(x, v)
        return torch.cat([v[..., :3], self.center(v[..., 3:], mask)], -1)

    def projx(self, x: Tensor) -> Tensor:
        r, t = self.split(x)
        return self.join(self.so3.projx(r), self.center(t))

    def retract(self, x: Tensor) -> Tensor:
        """Newton-Schulz polish of the rotations; translations are kept as they are."""
        r, t = self.split(x)
        return self.join(self.so3.retract(r), t)

    def scale_rotation(self, output: Tensor, factor: Tensor) -> Tensor:
        """Rotation part ``output[..., :3]`` of ``(n, N, 6)`` outputs times ``factor`` (n,).

        Makes SE3 a :class:`~manifold_fm.spaces.rotational.RotationalSpace`.
        """
        w = self.so3.scale_rotation(output[..., :3], factor)
        return torch.cat([w, output[..., 3:]], -1)

    def inner(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        uv = u * v
        return self.rot_weight * uv[..., :3].sum((-1, -2)) + self.trans_weight * uv[..., 3:].sum(
            (-1, -2)
        )

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        """sqrt(rot_weight sum_i angle_i^2 + trans_weight sum_i |t1_i - t0_i|^2)."""
        (r0, t0), (r1, t1) = self.split(x), self.split(y)
        ang = self.so3.dist(r0, r1)
        d2 = self.rot_weight * (ang * ang).sum(-1)
        d2 = d2 + self.trans_weight * ((t1 - t0) ** 2).sum((-1, -2))
        pos = d2 > 0
        return torch.where(pos, torch.where(pos, d2, torch.ones_like(d2)).sqrt(), 0 * d2)

    def point_error(self, x: Tensor) -> Tensor:
        """Largest rotation error over frames (translations are unconstrained in validate)."""
        return self.so3.point_error(self.split(x)[0]).amax(-1)

    def log_differential(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """Rotations: :meth:`SO3.log_differential` per frame; translations: identity."""
        w = self.so3.log_differential(x[..., :3], y[..., :3], v[..., :3])
        return torch.cat([w, v[..., 3:]], -1)

    def to_ambient_velocity(self, x: Tensor, v: Tensor) -> Tensor:
        r, _ = self.split(x)
        return self.join(self.so3.to_ambient_velocity(r, v[..., :3]), v[..., 3:])

    def from_ambient_velocity(self, x: Tensor, dx: Tensor) -> Tensor:
        r, _ = self.split(x)
        dr, dt = self.split(dx)
        return torch.cat([self.so3.from_ambient_velocity(r, dr), self.center(dt)], -1)

    def interpolate(self, x0: Tensor, x1: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """Per frame: (R0 Exp(s w), (1 - s) t0 + s t1) and velocity (w, t1 - t0)."""
        (r0, t0), (r1, t1) = self.split(x0), self.split(x1)
        s1 = pad_time(s, 1)
        r_s, w = self.so3.interpolate(r0, r1, s1.expand(r0.shape[:-2]))
        return self.join(r_s, t0 + s1.unsqueeze(-1) * (t1 - t0)), torch.cat([w, t1 - t0], -1)

    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: Tensor | None = None,
    ) -> PathSample:
        """Geodesic product path; padded frames: x_t = x0, target 0 (module docstring).

        Deterministic given (x0, x1, t): ``generator`` is accepted and unused.
        """
        mask = self.check_mask(x1, mask)
        if x0.shape != x1.shape:
            raise ValueError(f"SE3.path: x0 {tuple(x0.shape)} and x1 {tuple(x1.shape)} differ")
        t = time_like(t, self.batch_shape(x1), x1)
        if self.centered:
            x0 = self.join(self.split(x0)[0], self.center(self.split(x0)[1], mask))
            x1 = self.join(self.split(x1)[0], self.center(self.split(x1)[1], mask))
        kappa, dkappa = self.schedule(t)
        x_t, vel = self.interpolate(x0, x1, kappa)
        target = pad_time(dkappa, 2) * vel
        if mask is not None:
            x_t = torch.where(mask[..., None, None], x_t, x0)
            target = target * mask.unsqueeze(-1).to(target.dtype)
        return PathSample(x_t=x_t, target=target, t=t, x0=x0, x1=x1, mask=mask)

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """rot_weight |dw|^2 + trans_weight |dv|^2 summed over real frames, shape ``batch``."""
        diff = output - sample.target
        sq = diff * diff
        per = self.rot_weight * sq[..., :3].sum(-1) + self.trans_weight * sq[..., 3:].sum(-1)
        if sample.mask is not None:
            per = torch.where(sample.mask, per, torch.zeros_like(per))
        return per.sum(-1)

    def __repr__(self) -> str:
        return (
            f"SE3(n_frames={self.n_frames}, centered={self.centered}, "
            f"trans_scale={self.trans_scale:g}, rot_weight={self.rot_weight:g}, "
            f"trans_weight={self.trans_weight:g})"
        )
