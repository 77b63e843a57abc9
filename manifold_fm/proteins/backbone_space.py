"""SE(3)^N protein frames whose loss adds FrameDiff / FrameFlow's auxiliary backbone losses.

The SE3 loss scores each frame alone (its rotation and its translation).
A backbone is judged by what the frames imply together: a rotation error of e radians
moves the frame's N and C atoms by about 1.5 e Angstrom, and small independent errors add
up to broken CA-CA spacings and clashes, which the per-frame loss weighs only indirectly.
FrameDiff (Yim et al. 2023) and FrameFlow add, for nearly clean inputs (large t, where the
prediction is accurate enough for local geometry to matter), two terms on the predicted
clean frames x1_hat = exp_{x_t}(u / r(t)) (r(t) = kappa'/(1 - kappa)):

* backbone atoms: the ideal N, CA, C placed by each predicted frame against those of the
  true frame, summed over real residues (mean over the three atoms);
* pairwise distances: for every pair of backbone atoms of real residues closer than
  ``pair_cutoff`` (6 A) in the true structure, the squared error of their predicted
  distance; mean over those pairs times the number of real residues.

Both in units of the prior's translation scale (times ``trans_weight``), switched on where
t > ``aux_t_min``, and multiplied by r(t)^2, so that ``loss_form='x1'`` (which divides by
r(t)^2) sees them as clean-point errors, exactly FrameFlow's terms, and
``loss_weighting='frameflow'`` gives them its 1/(1 - min(t, 0.9))^2 as it does in FrameFlow.
With both weights 0 this is :class:`~manifold_fm.spaces.se3.SE3`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.proteins.frames import IDEAL_LOCAL
from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.base import PathSample
from manifold_fm.spaces.se3 import SE3

__all__ = ["BackboneSE3"]


class BackboneSE3(SE3):
    """:class:`SE3` with the auxiliary backbone losses of the module docstring.

    Args:
        n_frames, centered, trans_scale, rot_weight, trans_weight, schedule, prior, sigma:
            as for :class:`SE3`.
        aux_atom_weight: weight of the backbone-atom term (FrameDiff: 0.25 of the whole
            auxiliary loss; FrameFlow: 1).
        aux_pair_weight: weight of the pairwise-distance term.
        aux_t_min: the terms count only where t > aux_t_min (FrameDiff: 0.75 in this
            package's t = 1 at data convention).
        pair_cutoff: true-structure distance (data units) below which atom pairs count.
    """

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
        aux_atom_weight: float = 0.25,
        aux_pair_weight: float = 0.25,
        aux_t_min: float = 0.75,
        pair_cutoff: float = 6.0,
    ) -> None:
        super().__init__(
            n_frames, centered, trans_scale, rot_weight, trans_weight, schedule, prior, sigma
        )
        for name, val in (
            ("aux_atom_weight", aux_atom_weight),
            ("aux_pair_weight", aux_pair_weight),
        ):
            if not (isinstance(val, (int, float)) and 0 <= val < float("inf")):
                raise ValueError(f"BackboneSE3: {name} must be a number >= 0, got {val!r}")
        if not (isinstance(aux_t_min, (int, float)) and 0 <= aux_t_min < 1):
            raise ValueError(f"BackboneSE3: aux_t_min must be in [0, 1), got {aux_t_min!r}")
        if not (isinstance(pair_cutoff, (int, float)) and pair_cutoff > 0):
            raise ValueError(f"BackboneSE3: pair_cutoff must be > 0, got {pair_cutoff!r}")
        self.aux_atom_weight, self.aux_pair_weight = float(aux_atom_weight), float(aux_pair_weight)
        self.aux_t_min, self.pair_cutoff = float(aux_t_min), float(pair_cutoff)

    def backbone_atoms(self, x: Tensor) -> Tensor:
        """Ideal N, CA, C of frames ``(..., N, 3, 4)``: ``(..., N, 3, 3)`` (differentiable)."""
        local = IDEAL_LOCAL.to(device=x.device, dtype=x.dtype)
        return torch.einsum("...ij,aj->...ai", x[..., :3], local) + x[..., 3].unsqueeze(-2)

    def aux_loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """The two auxiliary terms in clean-point units, per example ``batch`` (not gated)."""
        rate = self.velocity_rate(sample.t, sample.x_t).clamp_min(1e-6)
        x1_hat = self.expmap(sample.x_t, output / rate[..., None, None])
        a_hat, a_true = self.backbone_atoms(x1_hat), self.backbone_atoms(sample.x1)
        real = (
            torch.ones(a_true.shape[:-2], dtype=torch.bool, device=a_true.device)
            if sample.mask is None
            else sample.mask
        )
        m = real.to(a_true.dtype)
        atom = (((a_hat - a_true) ** 2).sum(-1).mean(-1) * m).sum(-1)
        flat_hat, flat_true = a_hat.flatten(-3, -2), a_true.flatten(-3, -2)  # (..., 3N, 3)
        d_hat = _pair_dist(flat_hat)
        d_true = _pair_dist(flat_true)
        m_atoms = real.repeat_interleave(3, dim=-1)
        near = (d_true < self.pair_cutoff) & m_atoms.unsqueeze(-1) & m_atoms.unsqueeze(-2)
        near = near & ~torch.eye(near.shape[-1], dtype=torch.bool, device=near.device)
        sq = torch.where(near, (d_hat - d_true) ** 2, torch.zeros_like(d_hat)).sum((-1, -2))
        pair = sq / near.sum((-1, -2)).clamp_min(1).to(sq.dtype) * m.sum(-1)
        return self.trans_weight * (self.aux_atom_weight * atom + self.aux_pair_weight * pair)

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """SE3's loss plus r(t)^2 [t > aux_t_min] :meth:`aux_loss` (module docstring)."""
        base = super().loss(output, sample)
        if self.aux_atom_weight == 0 and self.aux_pair_weight == 0:
            return base
        rate = self.velocity_rate(sample.t, sample.x_t)
        gate = (sample.t > self.aux_t_min).to(base.dtype)
        return base + gate * rate.to(base.dtype) ** 2 * self.aux_loss(output, sample)

    def __repr__(self) -> str:
        return super().__repr__()[:-1].replace("SE3(", "BackboneSE3(", 1) + (
            f", aux_atom_weight={self.aux_atom_weight:g}, aux_pair_weight="
            f"{self.aux_pair_weight:g}, aux_t_min={self.aux_t_min:g})"
        )


def _pair_dist(a: Tensor) -> Tensor:
    """All pairwise distances of points ``(..., M, 3)``, finite gradients at 0."""
    diff = a.unsqueeze(-2) - a.unsqueeze(-3)
    return (diff * diff).sum(-1).clamp_min(1e-10).sqrt()
