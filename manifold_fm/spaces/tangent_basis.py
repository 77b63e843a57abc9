"""The generic orthonormal tangent basis of a ManifoldSpace (the fallback of ``tangent_basis``).

The likelihood's exact divergence needs an orthonormal basis of every
tangent space; spaces with a closed form override :meth:`ManifoldSpace.tangent_basis`, all
others use this one construction from ``proju`` and ``inner``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["gram_tangent_basis"]


def gram_tangent_basis(space: ManifoldSpace, x: Tensor) -> Tensor:
    """Orthonormal tangent basis at ``x`` w.r.t. ``space.inner``, from projected unit vectors.

    Project the ambient basis e_k of the tangent representation with ``proju``, form the
    Gram matrix G_kl = <P e_k, P e_l>_x and keep its top-``dim`` eigenpairs (G = U L U^T):
    b_j = sum_k U_kj P e_k / sqrt(L_j). Orthonormal for any metric given by ``inner``
    (conformal ones included). Returns ``batch_shape + (dim,) + tangent_shape``.
    """
    tshape = tuple(space.tangent_shape)
    big = math.prod(tshape)
    batch = tuple(space.batch_shape(x))
    nb = len(batch)
    eye = torch.eye(big, device=x.device, dtype=x.dtype).reshape(big, *tshape)
    xe = x.unsqueeze(nb).expand(*batch, big, *space.event_shape)
    p = space.proju(xe, eye.expand(*batch, big, *tshape))
    xg = x.reshape(*batch, 1, 1, *space.event_shape).expand(*batch, big, big, *space.event_shape)
    gram = space.inner(xg, p.unsqueeze(nb + 1), p.unsqueeze(nb))
    evals, evecs = torch.linalg.eigh(gram)
    lam = evals[..., big - space.dim :].clamp_min(torch.finfo(x.dtype).tiny)
    coef = (evecs[..., big - space.dim :] / lam.sqrt().unsqueeze(-2)).transpose(-1, -2)
    basis = coef @ p.reshape(*batch, big, big)
    return basis.reshape(*batch, space.dim, *tshape)
