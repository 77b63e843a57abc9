"""Residue frames from backbone atoms, and ideal backbone atoms from frames.

The frame convention is the one place protein I/O and SE(3) meet,
and a convention mismatch (OpenFold's "C on -x, then flip") silently ruins a model; both
directions live here, tested against the ideal local coordinates.

Convention (FrameDiff / FrameFlow / FoldFlow): translation t = CA; rotation R = [e1 e2 e3]
(columns) with

    e1 = (C - CA) / |C - CA|
    e2 = u / |u|,  u = (N - CA) - ((N - CA) . e1) e1
    e3 = e1 x e2

so in local coordinates CA = 0, C = (|CA-C|, 0, 0) and N = (a, b, 0) with b > 0. Ideal
local coordinates (Engh & Huber bond lengths, N-CA-C = 111.2 deg):
N = (-0.525, 1.363, 0), CA = 0, C = (1.526, 0, 0). Units: Angstrom throughout.

O from frames (:func:`ideal_backbone`): placed in the peptide plane from the next residue's
ideal N, C=O 1.231 A along the outer bisector of the CA-C-N(next) angle; the last residue
(or one followed by padding) gets the ideal O of psi = 180 deg, local (2.151, 1.061, 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["IDEAL_LOCAL", "IDEAL_O_LOCAL", "backbone_frames", "ideal_backbone"]

#: ideal local coordinates of N, CA, C in the residue frame (Angstrom), rows N, CA, C
IDEAL_LOCAL = torch.tensor(
    [[-0.525, 1.363, 0.0], [0.0, 0.0, 0.0], [1.526, 0.0, 0.0]], dtype=torch.float64
)
#: ideal local O of psi = 180 deg: C + 1.231 A at 120.5 deg from C->CA, on N's side
IDEAL_O_LOCAL = torch.tensor([2.151, 1.061, 0.0], dtype=torch.float64)
_CO_BOND = 1.231


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def backbone_frames(coords: Tensor) -> Tensor:
    """SE(3) frames ``(..., L, 3, 4)`` = [R | CA] from backbone atoms ``(..., L, >=3, 3)``.

    Atoms in the order N, CA, C (O, if present, is ignored); Gram-Schmidt as in the
    module docstring. Computed in float64 and returned in the input dtype.
    """
    if coords.dim() < 3 or coords.shape[-2] < 3 or coords.shape[-1] != 3:
        raise ValueError(
            f"backbone_frames: coords must have shape (..., L, 4, 3) or (..., L, 3, 3), "
            f"got {tuple(coords.shape)}"
        )
    x = coords.to(torch.float64)
    n, ca, c = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    e1 = _unit(c - ca)
    u = n - ca
    e2 = _unit(u - (u * e1).sum(-1, keepdim=True) * e1)
    e3 = torch.linalg.cross(e1, e2)
    r = torch.stack([e1, e2, e3], -1)
    return torch.cat([r, ca.unsqueeze(-1)], -1).to(coords.dtype)


def ideal_backbone(frames: Tensor, mask: Tensor | None = None) -> Tensor:
    """Ideal N, CA, C, O ``(..., L, 4, 3)`` placed by frames ``(..., L, 3, 4)``.

    atom = R @ local + t for N, CA, C (:data:`IDEAL_LOCAL`); O as in the module docstring,
    from the next residue's ideal N where it exists and is real (``mask`` ``(..., L)``).
    """
    if frames.shape[-2:] != (3, 4):
        raise ValueError(
            f"ideal_backbone: frames must be (..., L, 3, 4), got {tuple(frames.shape)}"
        )
    f = frames.to(torch.float64)
    r, t = f[..., :3], f[..., 3]
    local = IDEAL_LOCAL.to(f.device)
    ncac = torch.einsum("...ij,aj->...ai", r, local) + t.unsqueeze(-2)
    ca, c = ncac[..., 1, :], ncac[..., 2, :]
    o_ideal = torch.einsum("...ij,j->...i", r, IDEAL_O_LOCAL.to(f.device)) + t
    n_next = torch.roll(ncac[..., 0, :], -1, dims=-2)
    o_plane = c - _CO_BOND * _unit(_unit(ca - c) + _unit(n_next - c))
    has_next = torch.ones(f.shape[:-2], dtype=torch.bool, device=f.device)
    has_next[..., -1] = False
    if mask is not None:
        m = mask.to(device=f.device, dtype=torch.bool)
        has_next = has_next & torch.roll(m, -1, dims=-1)
    o = torch.where(has_next.unsqueeze(-1), o_plane, o_ideal)
    return torch.cat([ncac, o.unsqueeze(-2)], -2).to(frames.dtype)
