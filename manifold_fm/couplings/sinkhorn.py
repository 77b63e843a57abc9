"""Entropic optimal transport: the `sinkhorn` coupling, its plan, a permutation drawn from it.

Everything runs in torch on the cost's device.

Log-domain Sinkhorn for uniform marginals a = b = 1/n and the plan

    P_ij = exp((f_i + g_j - C_ij) / eps),
    f_i = eps log a_i - eps LSE_j((g_j - C_ij) / eps),
    g_j = eps log b_j - eps LSE_i((f_i - C_ij) / eps),

stable for small eps because only log-sum-exps of the potentials are taken.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from manifold_fm.couplings.base import (
    CouplingResult,
    check_pair,
    check_positive,
    paired_result,
    pairwise_cost,
)
from manifold_fm.spaces.base import Space

__all__ = ["draw_permutation", "sinkhorn", "sinkhorn_log_plan"]


def sinkhorn_log_plan(cost: Tensor, epsilon: float, iters: int, tol: float) -> Tensor:
    """log P of the entropic OT plan between two uniform marginals.

    Args:
        cost: C, shape ``(n, n)`` (sources x targets).
        epsilon: absolute regularisation eps > 0 (same units as C).
        iters: at most this many (f, g) updates.
        tol: stop when the row marginal error sum_i |sum_j P_ij - 1/n| < tol (checked every
            10 updates; the column marginals are exact after each g update).

    Returns:
        log P, shape ``(n, n)``; P sums to 1.
    """
    n0, n1 = cost.shape
    scaled = cost / epsilon
    log_a, log_b = -math.log(n0), -math.log(n1)
    f = torch.zeros(n0, dtype=cost.dtype, device=cost.device)
    g = torch.zeros(n1, dtype=cost.dtype, device=cost.device)
    for k in range(iters):
        f = log_a - torch.logsumexp(g[None, :] - scaled, dim=1)
        g = log_b - torch.logsumexp(f[:, None] - scaled, dim=0)
        if (k + 1) % 10 == 0:
            rows = torch.logsumexp(f[:, None] + g[None, :] - scaled, dim=1).exp()
            if float((rows - 1.0 / n0).abs().sum()) < tol:  # one host sync per 10 updates
                break
    return f[:, None] + g[None, :] - scaled


def draw_permutation(log_plan: Tensor, generator: torch.Generator | None, rounds: int) -> Tensor:
    """A permutation drawn from a plan: ``perm[j]`` is the source paired with target j.

    Each target j draws a source from its column P[:, j] / sum_i P_ij. Targets that drew
    the same source compete: one of them, chosen by a uniformly random priority, keeps it;
    the others draw again from their columns restricted to the sources still free, for
    ``rounds`` rounds in all; any targets still unmatched are paired with the remaining
    sources uniformly at random. The result is a permutation (every source used once), so
    the draw is not exactly a sample of P: collisions bias it slightly toward a random
    pairing of the leftovers, which are few when the plan is concentrated.

    Args:
        log_plan: log P, shape ``(n, n)`` (sources x targets).
        generator: torch generator on the plan's device (None: the global one).
        rounds: draw rounds before the random fallback (>= 1).

    Returns:
        perm, long ``(n,)``.
    """
    n = log_plan.shape[0]
    dev = log_plan.device
    perm = torch.full((n,), -1, dtype=torch.long, device=dev)
    free_src = torch.arange(n, device=dev)
    open_tgt = torch.arange(n, device=dev)
    for _ in range(rounds):
        if open_tgt.numel() == 0:
            break
        sub = log_plan[free_src][:, open_tgt].T  # (targets, free sources)
        weights = (sub - sub.max(dim=1, keepdim=True).values).exp()
        pick = torch.multinomial(weights, 1, generator=generator).squeeze(1)  # local index
        priority = torch.rand(pick.shape, generator=generator, device=dev)
        best = torch.full((free_src.numel(),), 2.0, dtype=priority.dtype, device=dev)
        best = best.scatter_reduce(0, pick, priority, reduce="amin")
        won = priority == best[pick]
        perm[open_tgt[won]] = free_src[pick[won]]
        taken = torch.zeros(free_src.numel(), dtype=torch.bool, device=dev)
        taken[pick[won]] = True
        free_src, open_tgt = free_src[~taken], open_tgt[~won]
    if open_tgt.numel():
        shuffle = torch.randperm(free_src.numel(), generator=generator, device=dev)
        perm[open_tgt] = free_src[shuffle]
    return perm


def sinkhorn(
    space: Space,
    x0: Tensor,
    x1: Tensor,
    generator: torch.Generator | None = None,
    *,
    epsilon: float = 0.05,
    iters: int = 200,
    tol: float = 1e-3,
    rounds: int = 4,
) -> CouplingResult:
    """Entropic OT pairing: a permutation drawn from the Sinkhorn plan.

    eps = ``epsilon`` * mean_ij C_ij with C the geodesic cost ``(n, n)``; the plan is
    :func:`~manifold_fm.couplings.sinkhorn.sinkhorn_log_plan` (at most ``iters`` updates,
    row-marginal tolerance ``tol``), computed in float64 on CPU tensors and in the
    tensors' dtype elsewhere; the pairing is
    :func:`~manifold_fm.couplings.sinkhorn.draw_permutation` with ``generator`` and
    ``rounds`` (a permutation, not a draw with replacement).
    """
    check_pair(space, x0, x1, "Sinkhorn OT")
    check_positive("epsilon", epsilon, float)
    check_positive("iters", iters, int)
    check_positive("tol", tol, float)
    check_positive("rounds", rounds, int)
    with torch.no_grad():
        cost = pairwise_cost(space, x0, x1)
        work = cost.double() if cost.device.type == "cpu" else cost
        eps = epsilon * work.mean().clamp_min(torch.finfo(work.dtype).tiny)
        log_plan = sinkhorn_log_plan(work, eps, iters, tol)
        perm = draw_permutation(log_plan, generator, rounds)
    return paired_result(x0, x1, cost[perm, torch.arange(x1.shape[0], device=x1.device)], perm)
