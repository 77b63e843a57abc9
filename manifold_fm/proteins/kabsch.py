"""Kabsch-aligned minibatch OT of SE(3)^N frames on their translations (FoldFlow-OT style).

For protein frames the geodesic OT cost of :mod:`manifold_fm.couplings` compares noise and
data in a fixed orientation, but a backbone has no preferred orientation and the prior is
rotation-invariant. Aligning each noise draw to each structure first (Kabsch) measures how
far the *shapes* are apart, and pairing by that cost straightens the translation paths
(FoldFlow-OT; the recipe in shared/notes/se3-recipe.md, section 3).

For points ``(n, N, 3, 4)`` with translations a_i (noise) and b_j (data) and the data's
residue mask m_j (the trainer passes the batch mask: this coupling declares
``uses_mask``), both centred over m_j::

    C[i, j] = min_{Q in SO(3)} sum_k m_jk |Q a_ik - b_jk|^2
            = |a_i|^2 + |b_j|^2 - 2 (s1 + s2 + sign(det(V U^T)) s3)

with U S V^T the SVD of H = sum_k m_jk a_ik b_jk^T (the optimal Q = V diag(1, 1, d) U^T).
The assignment perm = argmin sum_j C[perm(j), j] is solved exactly
(:func:`~manifold_fm.couplings.assign_permutation`); the paired
noise is returned rotated by its optimal Q (rotations and translations of every frame),
still a draw of the rotation-invariant prior. Rotations do not enter the cost.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.couplings import CouplingResult, assign_permutation
from manifold_fm.spaces.base import Space

__all__ = ["kabsch_cost", "kabsch_ot"]


def _centred(t: Tensor, m: Tensor) -> Tensor:
    """t ``(..., N, 3)`` minus its centroid over m ``(..., N)`` (float), masked rows zeroed."""
    com = (t * m.unsqueeze(-1)).sum(-2, keepdim=True) / m.sum(-1)[..., None, None].clamp_min(1)
    return (t - com) * m.unsqueeze(-1)


def kabsch_cost(t0: Tensor, t1: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Aligned costs ``C (n0, n1)`` and optimal rotations ``Q (n0, n1, 3, 3)`` (docstring).

    ``t0 (n0, N, 3)``, ``t1 (n1, N, 3)``, ``mask (n1, N)`` bool of the data (None: all).
    """
    n0, n1 = t0.shape[0], t1.shape[0]
    m = torch.ones(t1.shape[:2], dtype=t1.dtype, device=t1.device) if mask is None else mask
    m = m.to(t1.dtype)[None].expand(n0, -1, -1)  # (n0, n1, N)
    a = _centred(t0[:, None].expand(-1, n1, -1, -1), m)
    b = _centred(t1[None].expand(n0, -1, -1, -1), m)
    h = torch.einsum("ijka,ijkb->ijab", a, b)
    u, s, vh = torch.linalg.svd(h)
    d = torch.sign(torch.linalg.det(vh.transpose(-1, -2) @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    s = torch.cat([s[..., :2], (d * s[..., 2]).unsqueeze(-1)], -1)
    cost = (a * a).sum((-1, -2)) + (b * b).sum((-1, -2)) - 2 * s.sum(-1)
    diag = torch.ones_like(s)
    diag[..., 2] = d
    q = vh.transpose(-1, -2) @ torch.diag_embed(diag) @ u.transpose(-1, -2)
    return cost.clamp_min(0), q


def kabsch_ot(
    space: Space,
    x0: Tensor,
    x1: Tensor,
    generator: torch.Generator | None = None,
    mask: Tensor | None = None,
) -> CouplingResult:
    """Pair noise frames ``x0`` with data frames ``x1`` (both ``(n, N, 3, 4)``) by aligned OT.

    Returns ``x0`` reordered and rotated onto its partner; ``cost`` is the mean aligned
    squared translation distance of the pairs. ``generator`` is unused (exact solution).
    """
    if x0.dim() != 4 or x0.shape[-2:] != (3, 4) or x0.shape[1:] != x1.shape[1:]:
        raise TypeError(
            f"kabsch_ot pairs SE(3)^N frames (n, N, 3, 4); got x0 {tuple(x0.shape)} and x1 "
            f"{tuple(x1.shape)} on {space!r}"
        )
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"kabsch_ot needs equal batch sizes, got {x0.shape[0]} and {x1.shape[0]}")
    if mask is not None and tuple(mask.shape) != tuple(x1.shape[:2]):
        raise ValueError(
            f"kabsch_ot: mask must have shape {tuple(x1.shape[:2])}, got {tuple(mask.shape)}"
        )
    with torch.no_grad():
        cost, q = kabsch_cost(x0[..., 3].double(), x1[..., 3].double(), mask)
    perm = assign_permutation(cost).to(x0.device)
    cols_all = torch.arange(x1.shape[0], device=x1.device)
    rot = q[perm, cols_all].to(x0.dtype)  # (n, 3, 3): rotation of the noise paired with j
    aligned = torch.einsum("nij,nkjl->nkil", rot, x0[perm])
    return CouplingResult(x0=aligned, x1=x1, perm=perm, cost=cost[perm, cols_all].mean())


kabsch_ot.uses_mask = True  # the Trainer passes the batch's residue mask
