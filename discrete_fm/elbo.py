"""Continuous-time negative ELBO of a CTMC flow-matching model, in bits per token.

Held-out likelihood is how discrete models are compared with
autoregressive ones; the NELBO is an upper bound on the NLL, estimated by Monte Carlo in
float64. Two estimators of the same quantity:

* ``"t"`` (any source): NELBO(x1) = int_0^1 E_{x_t ~ p_t(.|x1)} sum_i GKL_i(x_t, t) dt with the
  generalized KL of :meth:`CTMCSpace.generalized_kl` (Shaul et al. 2024; Campbell et al.
  2022): the KL between the conditional path measure, which starts at p0 and ends at x1, and
  the model's CTMC started at p0 (the prior term is 0 because both start at p0). For the mask
  source it reduces to int_0^1 w_t E[sum_{masked i} -log p(x1^i | x_t)] dt (MDLM/MD4). t is
  stratified: t_j = (j + u)/n_t, one uniform shift u per sequence.
* ``"k"`` (mask source): the number-of-masks form. Since int_0^1 (kappa'/(1-kappa))
  Binom(k; D, 1-kappa) dt = 1/k, NELBO = sum_{k=1}^D (1/k) E_{|S|=k} sum_{i in S}
  -log p(x1^i | x1 with S masked) = D E_{k ~ U{1..D}} [(1/k) E_S sum_{i in S} CE_i]; no 1/t
  spikes. k is stratified like t. The model is fed t = 1 - k/D (the time at which the
  linear schedule has k masked of D); mask-source models usually ignore t.

Padding: only real positions (``mask`` True) cost anything. A row that is all padding has
no token to code, so its NELBO is exactly 0 under both estimators (and it adds no token
to the bits-per-token denominator); a batch without any real token is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from discrete_fm.rates import posterior_log_probs
from discrete_fm.space import CTMCSpace
from manifold_fm.conditioning import check_cond, rows_of

__all__ = ["ElboResult", "elbo"]


@dataclass
class ElboResult:
    """What :func:`elbo` returns.

    Attributes:
        bits_per_token: total NELBO over all real tokens / (number of real tokens * ln 2).
        nats: per-sequence NELBO in nats, float64, shape (n,).
        stderr: standard error of ``bits_per_token`` over sequences (data + MC noise).
        n_t: Monte-Carlo samples of t (or k) per sequence.
        estimator: ``"t"`` or ``"k"``.
    """

    bits_per_token: float
    nats: Tensor
    stderr: float
    n_t: int
    estimator: str


def _call(model, x_t, t, mask, cond):
    kw = dict(cond or {})
    if mask is not None:
        kw["mask"] = mask
    return model(x_t, t, **kw)


def elbo(
    model: nn.Module | Callable[..., Tensor],
    space: CTMCSpace,
    x1: Tensor,
    *,
    n_t: int = 16,
    mask: Tensor | None = None,
    estimator: str = "t",
    batch_size: int | None = None,
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    enable_grad: bool = False,
) -> ElboResult:
    """Monte-Carlo NELBO of sequences ``x1`` (n, L) under ``model`` (an upper bound on NLL).

    Args:
        model: ``model(x_t, t, **cond[, mask=mask]) -> logits (n, L, V)``.
        space: the CTMCSpace the model was trained on.
        x1: long (n, L) data; ``mask`` (n, L) marks real positions (padding has no cost;
            an all-padding row gets NELBO 0).
        n_t: stratified samples of t (or k) per sequence.
        estimator: ``"t"`` (time integral, any source) or ``"k"`` (mask source only).
        batch_size: sequences per model call (default all).
        cond: extra model keywords, each one the model reads (else ConditionError);
            per-row tensors (leading size n) are sliced with each batch of ``batch_size``
            rows, other values are passed to every call as they are.
        generator: the only source of randomness.
        enable_grad: record the estimate for autograd (``nats`` then carries gradients to
            the model's parameters, e.g. for maximum-likelihood training); default under
            no_grad.
    """
    if not isinstance(space, CTMCSpace):
        raise TypeError(f"elbo needs a CTMCSpace, got {type(space).__name__}")
    if estimator not in ("t", "k"):
        raise ValueError(f"elbo: estimator must be 't' or 'k', got {estimator!r}")
    if estimator == "k" and space.source != "mask":
        raise ValueError("elbo: the 'k' estimator exists for the mask source only; use 't'")
    if not isinstance(n_t, int) or n_t < 1:
        raise ValueError(f"elbo: n_t must be a positive int, got {n_t!r}")
    check_cond(model, cond)
    space.validate(x1)
    x1 = x1.long()
    mask = space.check_mask(x1, mask)
    if mask is not None and not bool(mask.any()):
        raise ValueError("elbo: the mask marks no real token in any row; nothing to score")
    with torch.set_grad_enabled(enable_grad):
        return _estimate(model, space, x1, mask, n_t, estimator, batch_size, cond, generator)


def _estimate(model, space, x1, mask, n_t, estimator, batch_size, cond, generator) -> ElboResult:
    """The estimate of :func:`elbo` (arguments as there, checked), under the caller's grad mode."""
    n = x1.shape[0]
    bs = n if batch_size is None else int(batch_size)
    dev = x1.device
    parts: list[Tensor] = []
    for lo in range(0, n, bs):
        xb = x1[lo : lo + bs]
        mb = None if mask is None else mask[lo : lo + bs]
        cb = rows_of(cond, lo, lo + bs, n)
        m = xb.shape[0]
        real = torch.ones_like(xb, dtype=torch.bool) if mb is None else mb
        D = real.sum(-1)
        shift = torch.rand(m, generator=generator, device=dev, dtype=torch.float64)
        acc = torch.zeros(m, dtype=torch.float64, device=dev)
        for j in range(n_t):
            frac = (j + shift) / n_t  # stratified in [0, 1)
            if estimator == "t":
                t = frac.to(torch.get_default_dtype())
                x0 = space.sample_prior(m, generator=generator, device=dev)
                sample = space.path(x0, xb, t, mask=mb, generator=generator)
                out = _call(model, sample.x_t, t, mb, cb)
                acc += space.generalized_kl(out, sample).sum(-1)
            else:
                k = (frac * D).floor().long().clamp_max(D - 1) + 1  # uniform on 1..D
                score = torch.rand(xb.shape, generator=generator, device=dev)
                score = score.masked_fill(~real, 2.0)
                rank = score.argsort(-1).argsort(-1)
                hidden = rank < k.unsqueeze(-1)
                x_t = torch.where(hidden, space.vocab_size, xb)
                t = (1 - k.double() / D.clamp_min(1)).to(torch.get_default_dtype())
                out = _call(model, x_t, t, mb, cb)
                lp = posterior_log_probs(out, x_t, space.mask_id).double()
                nll = -lp.gather(-1, xb.unsqueeze(-1)).squeeze(-1)
                ce = torch.where(hidden, nll, 0.0).sum(-1)
                # an all-padding row (D = 0) has k = 0 and nothing hidden: it costs 0
                acc += torch.where(D > 0, D.double() / k.clamp_min(1).double() * ce, 0.0)
        parts.append(acc / n_t)
    nats = torch.cat(parts)
    real_all = torch.ones_like(x1, dtype=torch.bool) if mask is None else mask
    tokens = real_all.sum(-1).double()
    bpt = float(nats.detach().sum() / (tokens.sum() * math.log(2)))
    per_seq = nats / (tokens.mean() * math.log(2))
    stderr = float(per_seq.detach().std() / math.sqrt(n)) if n > 1 else float("nan")
    return ElboResult(bits_per_token=bpt, nats=nats, stderr=stderr, n_t=n_t, estimator=estimator)
