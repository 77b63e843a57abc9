"""The coupling contract and the pieces every coupling shares.

A coupling is a callable ``coupling(space, x0, x1, generator=None, *, **options) ->
CouplingResult`` that reorders the prior draws ``x0`` so that ``x0[i]`` is paired with the
data point ``x1[i]``. A coupling that needs the batch's padding mask (e.g. per-residue
frames) declares ``uses_mask = True`` and takes ``mask=``; the Trainer reads the attribute
off the coupling (:class:`Coupling`) and never branches on its name.

The shared assignment helper :func:`assign_permutation` solves a square assignment problem
exactly (Jonker-Volgenant, scipy's ``linear_sum_assignment``, CPU float64, deterministic)
and returns the permutation ``perm`` with ``x0[perm]`` paired with ``x1``: with the solver's
(rows, cols), ``perm[cols[k]] = rows[k]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = [
    "Coupling",
    "CouplingResult",
    "assign_permutation",
    "check_pair",
    "check_positive",
    "independent",
    "paired_result",
    "pairwise_cost",
    "uses_mask",
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


@runtime_checkable
class Coupling(Protocol):
    """What the Trainer calls: ``coupling(space, x0, x1, generator, [mask=...])``.

    Attributes:
        uses_mask: True when the coupling takes the batch's padding mask as ``mask=`` (an
            attribute of the function; absent means False).
    """

    def __call__(
        self, space: Space, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
    ) -> CouplingResult: ...


def uses_mask(coupling: Any) -> bool:
    """Whether ``coupling`` declares ``uses_mask = True`` (it then receives ``mask=``)."""
    return bool(getattr(coupling, "uses_mask", False))


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


def check_pair(space: Space, x0: Tensor, x1: Tensor, what: str) -> None:
    if not isinstance(space, ManifoldSpace):
        raise TypeError(f"{what} needs a ManifoldSpace with a distance, got {space!r}")
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(
            f"OT coupling needs equal batch sizes, got {x0.shape[0]} and {x1.shape[0]}"
        )


def check_positive(name: str, value: Any, kind: type) -> None:
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not (ok and 0 < value < math.inf):
        raise ValueError(f"coupling option {name} must be a {kind.__name__} > 0, got {value!r}")


def assign_permutation(cost: Tensor) -> Tensor:
    """Exact assignment of a square cost ``(n, n)``: ``perm`` with ``x0[perm]`` paired to ``x1``.

    Minimises sum_j cost[perm[j], j]; solved on the CPU in float64 (deterministic). The
    result is a long tensor ``(n,)`` on ``cost``'s device.
    """
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.detach().to("cpu", torch.float64).numpy())
    perm = torch.empty(cost.shape[1], dtype=torch.long)
    perm[torch.as_tensor(cols, dtype=torch.long)] = torch.as_tensor(rows, dtype=torch.long)
    return perm.to(cost.device)


def paired_result(x0: Tensor, x1: Tensor, cost_of_pairs: Tensor, perm: Tensor) -> CouplingResult:
    """The :class:`CouplingResult` of ``perm``, with the mean of the pairs' costs."""
    return CouplingResult(x0=x0[perm], x1=x1, perm=perm, cost=cost_of_pairs.mean())
