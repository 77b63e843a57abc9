"""Conditioning conventions shared by the trainer and the samplers.

A model is called as ``model(x_t, t, **cond)``. For classifier-free guidance the trainer
drops the condition of a random subset of rows and the sampler asks for an unconditional
output; both say so with one extra keyword, ``cond_drop``: a bool tensor of shape
``(batch,)``, True where the model must ignore its condition. Models that take no condition
never receive it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["COND_DROP", "rows_of", "with_dropped"]

COND_DROP = "cond_drop"


def with_dropped(cond: dict[str, Any], drop: Tensor) -> dict[str, Any]:
    """Return ``cond`` plus ``cond_drop=drop`` (shape ``(batch,)``, bool)."""
    return {**cond, COND_DROP: drop.to(torch.bool)}


def rows_of(cond: dict[str, Any] | None, lo: int, hi: int, n: int) -> dict[str, Any]:
    """The condition of rows ``lo:hi`` of a batch of ``n``, for chunked model calls.

    Per-row values (tensors of shape ``(n, ...)``) are sliced to ``(hi - lo, ...)``; all
    others (scalars, shared tensors, Python values) are passed through unchanged.
    """
    return {
        k: v[lo:hi] if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == n else v
        for k, v in (cond or {}).items()
    }
