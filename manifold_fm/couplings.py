"""Pairing prior and data samples within a minibatch.

* ``independent``: keep the pairs as drawn (x0_i, x1_i).
* ``ot``: minibatch optimal transport with the space's own cost
  c(x0_i, x1_j) = dist(x0_i, x1_j)^2 (geodesic distance). Batches of at most ``block_size``
  (default :data:`DEFAULT_BLOCK_SIZE`) are solved exactly as one assignment problem
  (Jonker-Volgenant via scipy); larger batches are split into random blocks (drawn with the
  run's generator) of about ``block_size`` sources and targets, each block solved exactly.
  The exact solve costs O(n^3): blocks of size B cost O(n B^2) and pair slightly worse
  (benchmarks/results/speed.md, couplings rows, give the measured trade-off).
* ``ot_exact``: one exact assignment over the whole batch, whatever its size.
* ``sinkhorn``: entropic OT (log-domain Sinkhorn, in torch on the tensors' device) with
  eps = ``epsilon`` x mean cost, then a permutation drawn from the plan with the run's
  generator (:func:`manifold_fm.couplings_sinkhorn.draw_permutation`).

Every OT coupling returns a permutation, so every x0 and x1 is used exactly once (no
resampling with replacement). Options reach a coupling through :func:`get_coupling`
(``TrainConfig.coupling_options``, e.g. ``{block_size = 128}`` in TOML). Randomness comes
only from torch generators, so a seeded run is bit-reproducible on the CPU.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from manifold_fm.couplings_sinkhorn import draw_permutation, sinkhorn_log_plan
from manifold_fm.keyword_check import check_keys
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = [
    "COUPLINGS",
    "DEFAULT_BLOCK_SIZE",
    "CouplingResult",
    "coupling_option_names",
    "exact_ot",
    "get_coupling",
    "independent",
    "minibatch_ot",
    "pairwise_cost",
    "sinkhorn",
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


#: block size of the default ``ot`` coupling, from the trade-off measured at batch 4096 on
#: S^2 (uniform prior to the demo's vMF mixture, 1 thread; benchmarks/speed_couplings.py):
#: blocks of 64 / 128 / 256 took 0.04 / 0.13 / 0.27 s against 40 s for the full exact
#: assignment, at mean pair cost 1.53 / 1.29 / 1.15 x the exact one's (independent
#: pairing: about 11 x); 128 keeps 97% of the reduction from independent to exact at
#: half the time of 256
DEFAULT_BLOCK_SIZE = 128


def _check_pair(space: Space, x0: Tensor, x1: Tensor, what: str) -> None:
    if not isinstance(space, ManifoldSpace):
        raise TypeError(f"{what} needs a ManifoldSpace with a distance, got {space!r}")
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(
            f"OT coupling needs equal batch sizes, got {x0.shape[0]} and {x1.shape[0]}"
        )


#: the built-in couplings' options, all positive numbers of this type
_OPTION_KINDS: dict[str, type] = {
    "block_size": int,
    "iters": int,
    "rounds": int,
    "epsilon": float,
    "tol": float,
}


def _positive(name: str, value: Any, kind: type) -> None:
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not (ok and 0 < value < math.inf):
        raise ValueError(f"coupling option {name} must be a {kind.__name__} > 0, got {value!r}")


def _assign(cost: Tensor) -> tuple[Tensor, Tensor]:
    """Exact assignment of a square cost (CPU, float64, deterministic): (rows, cols)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.detach().to("cpu", torch.float64).numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


def _result(x0: Tensor, x1: Tensor, cost_of_pairs: Tensor, perm: Tensor) -> CouplingResult:
    return CouplingResult(x0=x0[perm], x1=x1, perm=perm, cost=cost_of_pairs.mean())


def exact_ot(
    space: Space, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
) -> CouplingResult:
    """Exact OT assignment: perm = argmin_sigma sum_i dist(x0_sigma(i), x1_i)^2.

    The cost matrix ``(n, n)`` is computed on the tensors' device; the assignment is solved
    on the CPU in float64 (scipy's linear_sum_assignment), which is deterministic.
    ``generator`` is accepted for a uniform signature and unused.
    """
    _check_pair(space, x0, x1, "exact OT")
    with torch.no_grad():
        cost = pairwise_cost(space, x0, x1)
    rows, cols = _assign(cost)
    # rows is sorted 0..n-1; x1[cols[k]] is matched with x0[rows[k]]: invert to index x0
    perm = torch.empty(x0.shape[0], dtype=torch.long)
    perm[cols] = rows
    perm = perm.to(x0.device)
    return _result(x0, x1, cost[perm, torch.arange(x1.shape[0], device=x1.device)], perm)


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
    _check_pair(space, x0, x1, "minibatch OT")
    _positive("block_size", block_size, int)
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
            rows, cols = _assign(cost)
            rows, cols = rows.to(x0.device), cols.to(x0.device)
            perm[t[cols]] = s[rows]
            pair_cost[t[cols]] = cost[rows, cols]
    return _result(x0, x1, pair_cost, perm)


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
    :func:`~manifold_fm.couplings_sinkhorn.sinkhorn_log_plan` (at most ``iters`` updates,
    row-marginal tolerance ``tol``), computed in float64 on CPU tensors and in the
    tensors' dtype elsewhere; the pairing is
    :func:`~manifold_fm.couplings_sinkhorn.draw_permutation` with ``generator`` and
    ``rounds`` (a permutation, not a draw with replacement).
    """
    _check_pair(space, x0, x1, "Sinkhorn OT")
    _positive("epsilon", epsilon, float)
    _positive("iters", iters, int)
    _positive("tol", tol, float)
    _positive("rounds", rounds, int)
    with torch.no_grad():
        cost = pairwise_cost(space, x0, x1)
        work = cost.double() if cost.device.type == "cpu" else cost
        eps = epsilon * work.mean().clamp_min(torch.finfo(work.dtype).tiny)
        log_plan = sinkhorn_log_plan(work, eps, iters, tol)
        perm = draw_permutation(log_plan, generator, rounds)
    return _result(x0, x1, cost[perm, torch.arange(x1.shape[0], device=x1.device)], perm)


CouplingFn = Callable[..., CouplingResult]
COUPLINGS: dict[str, CouplingFn] = {
    "independent": independent,
    "ot": minibatch_ot,
    "ot_exact": exact_ot,
    "sinkhorn": sinkhorn,
}


def coupling_option_names(fn: CouplingFn) -> tuple[str, ...]:
    """The keyword-only options a coupling function takes (e.g. ``('block_size',)``)."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def get_coupling(name: str | CouplingFn, options: Mapping[str, Any] | None = None) -> CouplingFn:
    """Look up a coupling by name (a key of :data:`COUPLINGS`) or pass a callable through.

    ``options`` are keyword options of that coupling (``ot``: ``block_size``; ``sinkhorn``:
    ``epsilon``, ``iters``, ``tol``, ``rounds``); an unknown key is a ValueError naming the
    closest valid one, checked before any pairing is done. Without options the function
    itself is returned.
    """
    if callable(name):
        fn = name
    elif name not in COUPLINGS:
        raise ValueError(f"unknown coupling {name!r}; choose one of {sorted(COUPLINGS)}")
    else:
        fn = COUPLINGS[name]
    if not options:
        return fn
    label = name if isinstance(name, str) else getattr(fn, "__name__", repr(fn))
    check_keys(dict(options), coupling_option_names(fn), f"coupling {label!r} options")
    for key, value in options.items():  # values checked now, not at the first step
        if key in _OPTION_KINDS:
            _positive(key, value, _OPTION_KINDS[key])
    bound = functools.partial(fn, **dict(options))
    bound.uses_mask = getattr(fn, "uses_mask", False)  # the Trainer reads it off the coupling
    return bound


from manifold_fm.couplings_kabsch import kabsch_ot  # noqa: E402  (it needs CouplingResult)

COUPLINGS["kabsch_ot"] = kabsch_ot
