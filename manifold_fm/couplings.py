"""Pairing prior and data samples within a minibatch.

* ``independent``: keep the pairs as drawn (x0_i, x1_i).
* ``ot``: exact minibatch optimal transport with the space's own cost
  c(x0_i, x1_j) = dist(x0_i, x1_j)^2 (geodesic distance), solved as an assignment problem
  (Hungarian / Jonker-Volgenant via scipy) -- a permutation, so every x0 and x1 is used
  exactly once (no resampling with replacement).

Randomness comes only from torch generators, so a seeded run is bit-reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = [
    "COUPLINGS",
    "CouplingResult",
    "get_coupling",
    "independent",
    "minibatch_ot",
    "pairwise_cost",
]


@dataclass
class CouplingResult:
    """Paired samples: ``x0[i]`` is matched with ``x1[i]``.

    Attributes:
        x0: source points reordered to pair with ``x1``, shape ``(n, *event_shape)``.
        x1: data points (unchanged order).
        perm: ``x0 = x0_in[perm]``, shape ``(n,)`` long.
        cost: mean squared distance of the pairs (0-d tensor), or None when not computed.
    """

    x0: Tensor
    x1: Tensor
    perm: Tensor
    cost: Tensor | None = None


def independent(
    space: Space, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
) -> CouplingResult:
    """Identity pairing (the draws are already independent)."""
    perm = torch.arange(x0.shape[0], device=x0.device)
    return CouplingResult(x0=x0, x1=x1, perm=perm, cost=None)


def pairwise_cost(space: ManifoldSpace, x0: Tensor, x1: Tensor) -> Tensor:
    """C[i, j] = dist(x0_i, x1_j)^2 for all pairs, shape ``(n0, n1)``, batched (no loops)."""
    e = space.event_ndim
    a = x0.reshape(x0.shape[0], 1, *x0.shape[1:]).expand(x0.shape[0], x1.shape[0], *x0.shape[1:])
    b = x1.reshape(1, *x1.shape).expand_as(a)
    d = space.dist(
        a.reshape(-1, *x0.shape[x0.dim() - e :]), b.reshape(-1, *x1.shape[x1.dim() - e :])
    )
    return (d * d).reshape(x0.shape[0], x1.shape[0])


def minibatch_ot(
    space: Space, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
) -> CouplingResult:
    """Exact OT assignment: perm = argmin_sigma sum_i dist(x0_sigma(i), x1_i)^2.

    The cost matrix is computed on the tensors' device; the assignment is solved on the
    CPU in float64 (scipy's linear_sum_assignment), which is deterministic. ``generator``
    is accepted for a uniform signature and unused (the exact solution needs no randomness).
    """
    if not isinstance(space, ManifoldSpace):
        raise TypeError(f"minibatch OT needs a ManifoldSpace with a distance, got {space!r}")
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(
            f"OT coupling needs equal batch sizes, got {x0.shape[0]} and {x1.shape[0]}"
        )
    from scipy.optimize import linear_sum_assignment

    with torch.no_grad():
        cost = pairwise_cost(space, x0, x1)
    rows, cols = linear_sum_assignment(cost.detach().to("cpu", torch.float64).numpy())
    # rows is sorted 0..n-1; x1[cols[k]] is matched with x0[rows[k]]: invert to index x0
    perm = torch.empty(x0.shape[0], dtype=torch.long)
    perm[torch.as_tensor(cols, dtype=torch.long)] = torch.as_tensor(rows, dtype=torch.long)
    perm = perm.to(x0.device)
    total = cost[perm, torch.arange(x1.shape[0], device=x1.device)].mean()
    return CouplingResult(x0=x0[perm], x1=x1, perm=perm, cost=total)


CouplingFn = Callable[..., CouplingResult]
COUPLINGS: dict[str, CouplingFn] = {"independent": independent, "ot": minibatch_ot}


def get_coupling(name: str | CouplingFn) -> CouplingFn:
    """Look up a coupling by name ('independent', 'ot') or pass a callable through."""
    if callable(name):
        return name
    if name not in COUPLINGS:
        raise ValueError(f"unknown coupling {name!r}; choose one of {sorted(COUPLINGS)}")
    return COUPLINGS[name]


from manifold_fm.couplings_kabsch import kabsch_ot  # noqa: E402  (it needs CouplingResult)

COUPLINGS["kabsch_ot"] = kabsch_ot
