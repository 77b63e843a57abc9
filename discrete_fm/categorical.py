"""Categorical draws for the CTMC samplers: one fast, precise inverse-CDF sampler.

Every sampler (Euler/tau-leaping, ancestral, exact final step) draws
tokens from per-position probability vectors, and the precision of that draw matters
(float32 Gumbel-max under-samples the tail and acts as a hidden low temperature, see
Zheng et al. 2024). One place, float64 by default, randomness only from the ``generator``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["apply_temperature_top_p", "sample_categorical"]


def sample_categorical(
    probs: Tensor,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Draw one index per row of unnormalised non-negative weights by inverse CDF.

    y = min{ k : c_k > u * c_{V-1} },  c = cumsum(probs), u ~ U[0, 1)

    Zero-weight entries are never drawn. Args: ``probs`` of shape ``(..., V)`` (need not sum
    to one); ``dtype`` of the cumulative sum (float64 keeps the tail exact). Returns a long
    tensor of shape ``(...)`` on ``probs.device``.
    """
    c = probs.to(dtype).cumsum(-1)
    u = torch.rand(c.shape[:-1], generator=generator, device=c.device, dtype=dtype)
    target = (u * c[..., -1]).unsqueeze(-1)
    idx = torch.searchsorted(c.contiguous(), target.contiguous(), right=True).squeeze(-1)
    return idx.clamp_max(probs.shape[-1] - 1)


def apply_temperature_top_p(logits: Tensor, temperature: float = 1.0, top_p: float = 1.0) -> Tensor:
    """Sharpen / truncate logits of shape ``(..., V)``; identity for the defaults.

    logits / temperature, then (top_p < 1) keep the smallest set of tokens whose
    probability mass reaches ``top_p`` and set the rest to -inf. Both change the sampled
    distribution (lower entropy); they are off by default and must stay off for
    likelihood-faithful samples and benchmarks.
    """
    if temperature != 1.0:
        logits = logits / temperature
    if top_p < 1.0:
        sorted_logits, order = logits.sort(-1, descending=True)
        p = sorted_logits.softmax(-1)
        drop = (p.cumsum(-1) - p) >= top_p  # mass before this token already reaches top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.empty_like(logits).scatter_(-1, order, sorted_logits)
    return logits
