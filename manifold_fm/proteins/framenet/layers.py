"""Layers of :class:`~manifold_fm.proteins.framenet.FrameNet`: graph IPA and the frame update.

The attention layer is the network's one piece of message passing
(PyTorch Geometric's ``MessagePassing``, ``softmax`` and ``scatter``), and the frame update
is where invariant features become equivariant frames; both are small and tested through
the network's equivariance.

:class:`GraphIPA` is invariant point attention (Jumper et al. 2021) restricted to the
edges of the residue graph. For edge (i <- j), with q, k, v scalar projections of the node
states, query / key points q^p, k^p placed in the global frame by each residue's frame
T = (R, x), edge features e_ij and a learned per-head weight gamma_h >= 0::

    a_ij = softmax_j( w_L [ q_i . k_j / sqrt(c) + b(e_ij)
                            - gamma_h w_C / 2 sum_p |T_i q^p_i - T_j k^p_j|^2 ] )
    o_i  = [ sum_j a_ij v_j,  sum_j a_ij e_ij,  T_i^-1 (sum_j a_ij T_j v^p_j),  |points| ]

Every term is invariant under a global rigid motion (distances of globally placed points,
and points brought back into frame i), so o_i is too.

:class:`FrameUpdate`: node state -> (b, c, d, dx) per residue; rotation U = quat(1, b, c, d)
(normalised) and translation dx, both in the residue's own frame; composed as
R <- R U, x <- x + R dx, so the update commutes with global rigid motions exactly.
Zero-initialised: a fresh network returns its input frames.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

from manifold_fm.lie.rotations import quat_to_matrix

__all__ = ["FrameUpdate", "GraphIPA", "Transition"]


class GraphIPA(MessagePassing):
    """Invariant point attention over graph edges (module docstring).

    Args:
        dim: node state width c_s.
        edge_dim: edge feature width c_z.
        heads: attention heads H.
        head_dim: scalar query/key/value width c per head.
        qk_points, v_points: query/key and value points per head.
    """

    def __init__(
        self,
        dim: int,
        edge_dim: int,
        heads: int = 4,
        head_dim: int = 16,
        qk_points: int = 4,
        v_points: int = 8,
    ) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.h, self.c, self.pq, self.pv = heads, head_dim, qk_points, v_points
        self.q = nn.Linear(dim, heads * head_dim, bias=False)
        self.kv = nn.Linear(dim, 2 * heads * head_dim, bias=False)
        self.q_pts = nn.Linear(dim, heads * qk_points * 3)
        self.kv_pts = nn.Linear(dim, heads * (qk_points + v_points) * 3)
        self.bias = nn.Linear(edge_dim, heads)
        self.edge_down = nn.Linear(edge_dim, edge_dim // 4)
        self.gamma = nn.Parameter(torch.full((heads,), math.log(math.e - 1)))
        out_in = heads * (head_dim + edge_dim // 4 + v_points * 4)
        self.out = nn.Linear(out_in, dim)

    def _points(self, lin: nn.Linear, s: Tensor, rot: Tensor, x: Tensor, p: int) -> Tensor:
        """Local points of ``lin(s)`` placed globally: ``(V, H, p, 3)``."""
        local = lin(s).reshape(s.shape[0], self.h, p, 3)
        return torch.einsum("vij,vhpj->vhpi", rot, local) + x[:, None, None, :]

    def forward(self, s: Tensor, e: Tensor, rot: Tensor, x: Tensor, edge_index: Tensor) -> Tensor:
        """Node update ``(V, dim)`` from states ``s (V, dim)``, edges ``e (E, edge_dim)``,
        frames ``rot (V, 3, 3)``, ``x (V, 3)`` (network units) and ``edge_index (2, E)``."""
        v_n = s.shape[0]
        q = self.q(s).reshape(v_n, self.h, self.c)
        k, v = self.kv(s).reshape(v_n, self.h, 2 * self.c).split(self.c, -1)
        qp = self._points(self.q_pts, s, rot, x, self.pq)
        kvp = self._points(self.kv_pts, s, rot, x, self.pq + self.pv)
        kp, vp = kvp.split([self.pq, self.pv], dim=2)
        agg = self.propagate(
            edge_index, q=q, k=k, v=v, qp=qp, kp=kp, vp=vp.flatten(2), e=e, size=(v_n, v_n)
        )
        cz = self.edge_down.out_features
        o_s, o_e, o_p = agg.split([self.c, cz, self.pv * 3], -1)
        pts = o_p.reshape(v_n, self.h, self.pv, 3) - x[:, None, None, :]
        pts = torch.einsum("vji,vhpj->vhpi", rot, pts)  # back into each residue's frame
        norms = (pts * pts).sum(-1).clamp_min(1e-8).sqrt()
        feats = [o_s, o_e, pts.flatten(2), norms]
        return self.out(torch.cat([f.reshape(v_n, -1) for f in feats], -1))

    def message(
        self,
        q_i: Tensor,
        k_j: Tensor,
        v_j: Tensor,
        qp_i: Tensor,
        kp_j: Tensor,
        vp_j: Tensor,
        e: Tensor,
        index: Tensor,
        ptr: Tensor | None,
        size_i: int | None,
    ) -> Tensor:
        w_c = math.sqrt(2.0 / (9.0 * self.pq))
        d2 = ((qp_i - kp_j) ** 2).sum((-1, -2))  # (E, H)
        gamma = nn.functional.softplus(self.gamma)
        logits = (q_i * k_j).sum(-1) / math.sqrt(self.c) + self.bias(e)
        logits = math.sqrt(1.0 / 3.0) * (logits - 0.5 * w_c * gamma * d2)
        a = softmax(logits, index, ptr, size_i)  # over the edges into each node
        ez = self.edge_down(e).unsqueeze(1).expand(-1, self.h, -1)
        msg = torch.cat([v_j, ez, vp_j], -1)  # (E, H, c + cz + 3 pv)
        return a.unsqueeze(-1) * msg


class Transition(nn.Module):
    """Pre-norm residual MLP ``s + MLP(LN(s))`` of width ``mult * dim``."""

    def __init__(self, dim: int, mult: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.SiLU(), nn.Linear(mult * dim, dim)
        )

    def forward(self, s: Tensor) -> Tensor:
        return s + self.net(s)


class FrameUpdate(nn.Module):
    """Per-residue rigid update in the residue's own frame, composed onto it (docstring)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, 6)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, s: Tensor, rot: Tensor, x: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
        """``(R U, x + R dx)`` for real residues (``real (V,)`` bool), others unchanged."""
        upd = self.lin(s) * real.unsqueeze(-1).to(s.dtype)
        bcd, dx = upd.split(3, -1)
        quat = torch.cat([bcd, torch.ones_like(bcd[:, :1])], -1)  # (x, y, z, w) with w = 1
        rot_new = rot @ quat_to_matrix(quat)
        return rot_new, x + torch.einsum("vij,vj->vi", rot, dx)
