"""Minibatch optimal transport with the space's geodesic cost c(x0_i, x1_j) = dist^2.

* :func:`exact_ot` (``"ot_exact"``): one exact assignment over the whole batch, O(n^3);
* :func:`minibatch_ot` (``"ot"``): exact within random blocks of about ``block_size`` pairs,
  O(n B^2) (benchmarks/results/speed.md, couplings rows, give the measured trade-off).
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.couplings.base import (
    CouplingResult,
    assign_permutation,
    check_pair,
    check_positive,
    paired_result,
    pairwise_cost,
)
from manifold_fm.spaces.base import Space

__all__ = ["DEFAULT_BLOCK_SIZE", "exact_ot", "minibatch_ot"]


#: block size of the default ``ot`` coupling, from the trade-off measured at batch 4096 on
#: S^2 (uniform prior to the demo's vMF mixture, 1 thread; benchmarks/speed/couplings.py):
#: blocks of 64 / 128 / 256 took 0.04 / 0.13 / 0.27 s against 40 s for the full exact
#: assignment, at mean pair cost 1.53 / 1.29 / 1.15 x the exact one's (independent
#: pairing: about 11 x); 128 keeps 97% of the reduction from independent to exact at
#: half the time of 256
DEFAULT_BLOCK_SIZE = 128


def exact_ot(
    space: Space, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
) -> CouplingResult:
    """Exact OT assignment: perm = argmin_sigma sum_i dist(x0_sigma(i), x1_i)^2.

    The cost matrix ``(n, n)`` is computed on the tensors' device; the assignment is solved
    on the CPU in float64 (scipy's linear_sum_assignment), which is deterministic.
    ``generator`` is accepted for a uniform signature and unused.
    """
    check_pair(space, x0, x1, "exact OT")
    with torch.no_grad():
        cost = pairwise_cost(space, x0, x1)
    perm = assign_permutation(cost)
    return paired_result(x0, x1, cost[perm, torch.arange(x1.shape[0], device=x1.device)], perm)


def minibatch_ot(
    space: Space,
    x0: Tensor,
    x1: Tensor,
    generator: torch.Generator | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> CouplingResult:
    """Blocked exact OT: exact within random blocks of about ``block_size`` pairs.

    For n <= ``block_size`` this is :func:`exact_ot` (no randomness drawn). Otherwise the
    sources and the targets are each shuffled with ``generator`` and cut into
    k = ceil(n / block_size) blocks of near-equal size; block b's sources are assigned to
    block b's targets exactly. Shapes: ``x0``, ``x1`` ``(n, *event_shape)``.
    """
    check_pair(space, x0, x1, "minibatch OT")
    check_positive("block_size", block_size, int)
    n = x0.shape[0]
    if n <= block_size:
        return exact_ot(space, x0, x1, generator)
    dev = generator.device if generator is not None else x0.device
    src = torch.randperm(n, generator=generator, device=dev).to(x0.device)
    tgt = torch.randperm(n, generator=generator, device=dev).to(x0.device)
    k = -(-n // block_size)
    perm = torch.empty(n, dtype=torch.long, device=x0.device)
    pair_cost = torch.empty(n, dtype=x0.dtype, device=x0.device)
    with torch.no_grad():
        for s, t in zip(src.tensor_split(k), tgt.tensor_split(k)):
            cost = pairwise_cost(space, x0[s], x1[t])
            block = assign_permutation(cost)  # x0[s][block] pairs with x1[t]
            perm[t] = s[block]
            pair_cost[t] = cost[block, torch.arange(t.shape[0], device=x0.device)]
    return paired_result(x0, x1, pair_cost, perm)
