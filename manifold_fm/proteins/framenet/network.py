"""FrameNet: an SE(3)-equivariant frame network on a k-nearest-neighbour residue graph.

Protein backbones on ``SE3(n_frames=N)`` need a network that sees
frames as frames. FrameNet is invariant point attention (IPA) on a sparse residue graph,
FrameFlow's structure module in spirit, sized for CPUs by default:

1. node states from the time t, the residue index and (optionally) the amino acid;
2. the masked kNN graph and invariant edge features of
   :mod:`manifold_fm.proteins.framenet.graph` (relative position, backbone-atom distances,
   relative orientation, neighbour directions in e3nn spherical harmonics, the
   self-conditioning estimate's CA distances);
3. ``n_layers`` blocks of :class:`~manifold_fm.proteins.framenet.layers.GraphIPA`, a transition
   and a :class:`~manifold_fm.proteins.framenet.layers.FrameUpdate` composed onto the frames.

Only invariant quantities enter the layers, and every update is expressed in the residue's
own frame, so for a global rigid motion g: ``FrameNet(g x) = g FrameNet(x)`` exactly (up to
rounding). Output: the clean-point estimate x1_hat ``(B, N, 3, 4)`` whose real residues keep
the centre of mass of the input's real residues (zero on ``SE3(centered=True)``; padded
frames are returned as given), optionally amino-acid logits
``(B, N, n_aa_out)``. Wrap it in :class:`manifold_fm.nn.X1Prediction` (``project=False``,
the prediction is already a valid point) for a velocity model on SE3:
:func:`manifold_fm.proteins.framenet.adapters.frame_velocity_model`.

Sizes: the default (dim 144, edge_dim 64, 5 layers, 4 heads) has about 0.95M parameters;
FrameFlow's published model is about dim 256, edge_dim 128, 6 layers, 8 heads.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from manifold_fm.nn.mlp import sinusoidal_embedding
from manifold_fm.proteins.framenet.graph import MAX_REL_POS, EdgeGeometry, knn_graph
from manifold_fm.proteins.framenet.layers import FrameUpdate, GraphIPA, Transition

__all__ = ["AA_VOCAB", "FrameNet"]

#: amino-acid ids the input embedding takes: 0..19 residues, 20 unknown / mask token
AA_VOCAB = 21


def _index_embedding(n: int, dim: int, like: Tensor) -> Tensor:
    """Sinusoidal features of residue indices 0..n-1: ``(n, dim)``."""
    half = dim // 2
    k = torch.arange(half, device=like.device, dtype=like.dtype)
    freqs = torch.exp(-math.log(1000.0) * k / max(half, 1))
    ang = torch.arange(n, device=like.device, dtype=like.dtype)[:, None] * freqs
    return torch.cat([torch.cos(ang), torch.sin(ang)], -1)


class FrameNet(nn.Module):
    """Frames in, clean frames (and amino-acid logits) out; see the module docstring.

    Args:
        dim: node state width.
        edge_dim: edge feature width.
        n_layers: IPA blocks, each followed by a frame update.
        heads, head_dim, qk_points, v_points: attention sizes of each block.
        k: neighbours per residue in the graph.
        seq_window: sequence neighbours always connected.
        n_rbf: radial basis functions per distance.
        length_scale: data units -> network units (0.1: Angstrom -> nm).
        n_aa_out: size of the amino-acid logit head (0: none; 20 for co-generation).
    """

    def __init__(
        self,
        dim: int = 144,
        edge_dim: int = 64,
        n_layers: int = 5,
        heads: int = 4,
        head_dim: int = 16,
        qk_points: int = 4,
        v_points: int = 8,
        k: int = 16,
        seq_window: int = 2,
        n_rbf: int = 16,
        length_scale: float = 0.1,
        n_aa_out: int = 0,
    ) -> None:
        super().__init__()
        for name, val in (
            ("dim", dim),
            ("edge_dim", edge_dim),
            ("n_layers", n_layers),
            ("heads", heads),
            ("head_dim", head_dim),
            ("k", k),
        ):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"FrameNet: {name} must be an int >= 1, got {val!r}")
        if not isinstance(n_aa_out, int) or n_aa_out < 0:
            raise ValueError(f"FrameNet: n_aa_out must be an int >= 0, got {n_aa_out!r}")
        if not length_scale > 0:
            raise ValueError(f"FrameNet: length_scale must be > 0, got {length_scale!r}")
        self.k, self.seq_window, self.length_scale = k, seq_window, float(length_scale)
        self.geometry = EdgeGeometry(n_rbf=n_rbf, length_scale=length_scale)
        self.time_dim = 32
        self.aa_embed = nn.Embedding(AA_VOCAB, 32)
        self.node_in = nn.Sequential(
            nn.Linear(self.time_dim + 32 + 32, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.rel_embed = nn.Embedding(2 * MAX_REL_POS + 1, edge_dim)
        self.edge_in = nn.Sequential(
            nn.Linear(self.geometry.dim, edge_dim), nn.SiLU(), nn.Linear(edge_dim, edge_dim)
        )
        self.edge_norm = nn.LayerNorm(edge_dim)
        self.ipa = nn.ModuleList(
            GraphIPA(dim, edge_dim, heads, head_dim, qk_points, v_points) for _ in range(n_layers)
        )
        self.ipa_norm = nn.ModuleList(nn.LayerNorm(dim) for _ in range(n_layers))
        self.transition = nn.ModuleList(Transition(dim) for _ in range(n_layers))
        self.update = nn.ModuleList(FrameUpdate(dim) for _ in range(n_layers))
        self.aa_head = (
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, n_aa_out)) if n_aa_out else None
        )

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        mask: Tensor | None = None,
        aatype: Tensor | None = None,
        self_cond: Tensor | None = None,
    ) -> Tensor:
        """x1_hat ``(B, N, 3, 4)`` from frames ``x (B, N, 3, 4)`` at times ``t (B,)``.

        ``mask (B, N)`` bool (True = real residue); ``aatype (B, N)`` long ids in
        0..20 (20 = unknown or masked; default all 20); ``self_cond`` a previous x1_hat
        ``(B, N, 3, 4)`` or None.
        """
        return self.predict(x, t, mask, aatype, self_cond)[0]

    def predict(
        self,
        x: Tensor,
        t: Tensor,
        mask: Tensor | None = None,
        aatype: Tensor | None = None,
        self_cond: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``(x1_hat (B, N, 3, 4), logits (B, N, n_aa_out) or None)``; see :meth:`forward`."""
        b, n = self._check(x, mask, aatype, self_cond)
        real = torch.ones(b, n, dtype=torch.bool, device=x.device) if mask is None else mask
        rot, trans = x[..., :3].reshape(b * n, 3, 3), x[..., 3].reshape(b * n, 3)
        pos = trans * self.length_scale
        edge_index, rel = knn_graph(pos.reshape(b, n, 3), real, self.k, self.seq_window)
        sc = None if self_cond is None else self_cond[..., 3].reshape(b * n, 3).to(x.dtype)
        e = self.edge_in(self.geometry.features(rot, trans, edge_index, sc))
        e = self.edge_norm(e + self.rel_embed(rel.clamp(-MAX_REL_POS, MAX_REL_POS) + MAX_REL_POS))
        aa = torch.full((b, n), AA_VOCAB - 1, dtype=torch.long, device=x.device)
        aa = aa if aatype is None else aatype.clamp(0, AA_VOCAB - 1)
        t_emb = sinusoidal_embedding(t.reshape(b), self.time_dim).to(x.dtype)
        feats = [
            t_emb[:, None, :].expand(b, n, -1),
            _index_embedding(n, 32, x).expand(b, n, -1),
            self.aa_embed(aa).to(x.dtype),
        ]
        s = self.node_in(torch.cat(feats, -1)).reshape(b * n, -1)
        flat_real = real.reshape(b * n)
        for ipa, norm, trans_block, update in zip(
            self.ipa, self.ipa_norm, self.transition, self.update
        ):
            s = norm(s + ipa(s, e, rot, pos, edge_index))
            s = trans_block(s)
            rot, pos = update(s, rot, pos, flat_real)
        out_t = (pos / self.length_scale).reshape(b, n, 3)
        m = real.unsqueeze(-1).to(x.dtype)
        count = m.sum(1, keepdim=True).clamp_min(1)
        shift = ((x[..., 3] - out_t) * m).sum(1, keepdim=True) / count  # keep the input's CoM
        out_t = torch.where(real.unsqueeze(-1), out_t + shift, x[..., 3])
        x1_hat = torch.cat([rot.reshape(b, n, 3, 3), out_t.unsqueeze(-1)], -1)
        logits = None if self.aa_head is None else self.aa_head(s).reshape(b, n, -1)
        return x1_hat, logits

    @staticmethod
    def _check(
        x: Tensor, mask: Tensor | None, aatype: Tensor | None, self_cond: Tensor | None
    ) -> tuple[int, int]:
        if x.dim() != 4 or x.shape[-2:] != (3, 4):
            raise ValueError(f"FrameNet: x must be frames (B, N, 3, 4), got {tuple(x.shape)}")
        b, n = x.shape[:2]
        for name, val, want in (
            ("mask", mask, (b, n)),
            ("aatype", aatype, (b, n)),
            ("self_cond", self_cond, (b, n, 3, 4)),
        ):
            if val is not None and tuple(val.shape) != want:
                raise ValueError(f"FrameNet: {name} must have shape {want}, got {tuple(val.shape)}")
        if mask is not None and mask.dtype != torch.bool:
            raise TypeError(f"FrameNet: mask must be bool, got {mask.dtype}")
        if aatype is not None and aatype.is_floating_point():
            raise TypeError(f"FrameNet: aatype must hold integer ids, got {aatype.dtype}")
        return b, n
