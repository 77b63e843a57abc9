"""The residue graph of :class:`~manifold_fm.proteins.framenet.FrameNet`, its invariant features.

The graph (which residues talk to which) and the edge features
(what they say about each other's frames) are the geometric half of the network; every
feature here is invariant under a global rotation and translation of all frames, which is
what makes the network's frame updates exactly SE(3)-equivariant.

Graph: per protein, each real residue i receives edges from its ``k`` nearest real
residues j != i by CA distance, with sequence neighbours |i - j| <= ``seq_window`` always
included (they are ranked first). Built in torch (``cdist`` + ``topk``) on the batch;
padded residues neither send nor receive edges. Node ids are flattened ``b * N + i``;
``edge_index = [src (j), dst (i)]`` as PyTorch Geometric expects.

Edge features of (i <- j), everything expressed in frame i = (R_i, x_i):

* relative sequence position j - i, clipped to [-32, 32] (an index into an embedding);
* the 9 distances between the ideal N, CA, C atoms placed by frame i and by frame j,
  in radial basis functions;
* the relative orientation R_i^T R_j (9 numbers);
* the neighbour direction R_i^T (x_j - x_i) / |x_j - x_i| encoded by e3nn's real
  spherical harmonics of degree 0..2;
* optionally the CA distance of the self-conditioning estimate (in RBFs).
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.proteins.frames import IDEAL_LOCAL

__all__ = ["MAX_REL_POS", "EdgeGeometry", "knn_graph", "rbf"]

#: relative sequence positions are clipped to [-MAX_REL_POS, MAX_REL_POS]
MAX_REL_POS = 32


def knn_graph(
    pos: Tensor, mask: Tensor | None, k: int, seq_window: int = 1
) -> tuple[Tensor, Tensor]:
    """Masked kNN graph of residues: ``(edge_index (2, E), rel (E,))``.

    ``pos``: CA positions ``(B, N, 3)``; ``mask``: ``(B, N)`` bool (True = real) or None.
    Each real residue gets edges from at most ``k`` real residues (fewer when the protein
    is smaller), sequence neighbours within ``seq_window`` first, then the nearest by
    distance. ``rel`` = j - i (long). Node ids are ``b * N + i``.
    """
    b, n, _ = pos.shape
    real = torch.ones(b, n, dtype=torch.bool, device=pos.device) if mask is None else mask
    with torch.no_grad():
        d = torch.cdist(pos, pos)
        idx = torch.arange(n, device=pos.device)
        sep = (idx[None, :] - idx[:, None]).abs()
        d = torch.where((sep <= seq_window)[None], torch.full_like(d, -1.0), d)
        valid = real[:, :, None] & real[:, None, :] & (sep > 0)[None]
        d = torch.where(valid, d, torch.full_like(d, float("inf")))
        kk = min(k, max(n - 1, 1))
        dist, nbr = torch.topk(d, kk, dim=-1, largest=False)  # (B, N, kk)
        keep = torch.isfinite(dist)
        dst = (torch.arange(b * n, device=pos.device).reshape(b, n, 1)).expand(b, n, kk)
        src = nbr + (torch.arange(b, device=pos.device) * n).reshape(b, 1, 1)
        edge_index = torch.stack([src[keep], dst[keep]])
        rel = (nbr - idx.reshape(1, n, 1)).expand(b, n, kk)[keep]
    return edge_index, rel


def rbf(d: Tensor, d_max: float, n: int) -> Tensor:
    """Gaussian radial basis of distances: ``d.shape + (n,)``, centres on [0, d_max]."""
    centres = torch.linspace(0.0, d_max, n, device=d.device, dtype=d.dtype)
    width = d_max / max(n - 1, 1)
    return torch.exp(-(((d.unsqueeze(-1) - centres) / width) ** 2))


class EdgeGeometry:
    """The invariant edge features of the module docstring, as one tensor per edge.

    Args:
        n_rbf: radial basis functions per distance.
        d_max: largest distance the basis resolves (in the network's length unit).
        length_scale: factor from data units to the network's unit (0.1: Angstrom -> nm).
        sh_lmax: highest degree of the direction's spherical harmonics.
    """

    def __init__(
        self, n_rbf: int = 16, d_max: float = 2.0, length_scale: float = 0.1, sh_lmax: int = 2
    ) -> None:
        self.n_rbf, self.d_max = n_rbf, d_max
        self.length_scale, self.sh_lmax = length_scale, sh_lmax

    @property
    def dim(self) -> int:
        """Width of :meth:`features` (without the relative-position embedding)."""
        return 9 * self.n_rbf + 9 + (self.sh_lmax + 1) ** 2 + self.n_rbf

    def features(
        self,
        rot: Tensor,
        trans: Tensor,
        edge_index: Tensor,
        self_cond_trans: Tensor | None = None,
    ) -> Tensor:
        """Edge features ``(E, dim)`` from flat frames ``rot (V, 3, 3)``, ``trans (V, 3)``.

        ``trans`` and ``self_cond_trans`` (V, 3) are in data units (scaled here).
        """
        from e3nn import o3

        src, dst = edge_index
        x = trans * self.length_scale
        local = IDEAL_LOCAL.to(device=x.device, dtype=x.dtype) * self.length_scale
        atoms = torch.einsum("vij,aj->vai", rot, local) + x.unsqueeze(-2)  # (V, 3, 3)
        pair = atoms[dst].unsqueeze(-2) - atoms[src].unsqueeze(-3)  # (E, 3, 3, 3)
        dist = _safe_norm(pair).reshape(-1, 9)
        r_i = rot[dst]
        rel_rot = (r_i.transpose(-1, -2) @ rot[src]).reshape(-1, 9)
        direction = torch.einsum("eji,ej->ei", r_i, x[src] - x[dst])
        unit = direction / _safe_norm(direction).unsqueeze(-1).clamp_min(1e-6)
        sh = o3.spherical_harmonics(list(range(self.sh_lmax + 1)), unit, normalize=False)
        if self_cond_trans is None:
            sc = dist.new_zeros(dist.shape[0], self.n_rbf)
        else:
            y = self_cond_trans * self.length_scale
            sc = rbf(_safe_norm(y[src] - y[dst]), self.d_max, self.n_rbf)
        d_rbf = rbf(dist, self.d_max, self.n_rbf).reshape(dist.shape[0], -1)
        return torch.cat([d_rbf, rel_rot, sh, sc], -1)


def _safe_norm(v: Tensor) -> Tensor:
    """|v| over the last axis with a finite gradient at 0."""
    return (v * v).sum(-1).clamp_min(1e-12).sqrt()
