"""From model logits to the CTMC's posterior and jump rates (the mixture-path velocity).

The posterior p(x1 | x_t) (with SUBS carry-over for the mask source)
and the rate u_t(y | x_t) = kappa'/(1-kappa) (p(x1=y | x_t) - delta_{x_t}(y)) are used by the
loss, the ELBO and the samplers; they are written once here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm.schedules import KappaSchedule
from manifold_fm.spaces.contract import PathSample

__all__ = ["generalized_kl", "guide_log_probs", "hazard", "jump_rates", "posterior_log_probs"]


def hazard(schedule: KappaSchedule, t: Tensor, eps: float = 1e-12) -> Tensor:
    """w(t) = kappa'(t) / (1 - kappa(t)), with 1 - kappa clamped below by ``eps``; like ``t``."""
    k, dk = schedule(t)
    return dk / (1 - k).clamp_min(eps)


def posterior_log_probs(logits: Tensor, x_t: Tensor, mask_id: int | None) -> Tensor:
    """log p(x1^i = y | x_t), shape ``(n, L, V)``, from logits ``(n, L, V)``.

    log_softmax of the logits, computed in at least float32. For the mask source
    (``mask_id`` = V) this is "SUBS" (Sahoo et al. 2024): a position that is not masked is
    already clean, so its posterior is the point mass at x_t^i (log-prob 0 there, -inf
    elsewhere) whatever the network says. For the uniform source (``mask_id`` None) every
    position keeps the network's posterior.
    """
    lp = torch.log_softmax(
        logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits, dim=-1
    )
    if mask_id is None:
        return lp
    clean = x_t != mask_id
    if not bool(clean.any()):
        return lp
    V = lp.shape[-1]
    point = torch.full_like(lp, float("-inf"))
    point.scatter_(-1, x_t.clamp_max(V - 1).unsqueeze(-1), 0.0)
    return torch.where(clean.unsqueeze(-1), point, lp)


def jump_rates(
    log_probs: Tensor, x_t: Tensor, t: Tensor, schedule: KappaSchedule, n_states: int
) -> Tensor:
    """Full rate matrix rows u_t(y | x_t) for every position, shape ``(n, L, n_states)``.

    u_t(y | x) = w(t) (p(x1 = y | x) - delta_x(y)), w = kappa'/(1-kappa); ``n_states`` is V
    (uniform source) or V + 1 (mask source; the mask state is never a destination). Rows sum
    to zero and are non-negative off the diagonal. ``t`` has shape ``(n,)``. Used by tests and
    diagnostics; the samplers never build the full matrix.
    """
    n, L, V = log_probs.shape
    p = torch.zeros(n, L, n_states, dtype=log_probs.dtype, device=log_probs.device)
    p[..., :V] = log_probs.exp()
    delta = torch.nn.functional.one_hot(x_t, n_states).to(p.dtype)
    w = hazard(schedule, t.to(p.dtype)).reshape(n, 1, 1)
    return w * (p - delta)


def generalized_kl(
    logits: Tensor, sample: PathSample, schedule: KappaSchedule, mask_id: int | None, vocab: int
) -> Tensor:
    """Per-position generalized KL between the true and model rates, shape (n, L).

    With w = kappa'/(1-kappa), p = p_theta(. | x_t), x = x_t^i, y = x1^i::

        GKL_i = w [delta_y(x) - p(x) - (1 - delta_y(x)) log p(y)]  >= 0

    (Shaul et al. 2024; the path-space KL of the two CTMCs, which factorises over
    single-position jumps). Mask source with SUBS: w (-log p(y)) at masked positions, 0
    elsewhere. Padded positions (``sample.mask`` False) are 0. Computed in float64.
    """
    x_t, x1 = sample.x_t, sample.x1
    lp = posterior_log_probs(logits, x_t, mask_id).double()
    nll = -lp.gather(-1, x1.unsqueeze(-1)).squeeze(-1)
    w = hazard(schedule, sample.t.double()).unsqueeze(-1)
    p_xt = lp.gather(-1, x_t.clamp_max(vocab - 1).unsqueeze(-1)).squeeze(-1)
    p_xt = torch.where(x_t < vocab, p_xt.exp(), 0.0)
    same = x_t == x1
    gkl = torch.where(same, 1.0 - p_xt, torch.where(same, 0.0, nll) - p_xt)
    real = sample.mask if sample.mask is not None else torch.ones_like(same)
    return torch.where(real, w * gkl, 0.0)


def guide_log_probs(cond_output: Tensor, uncond_output: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance in log-probability space, logits (n, L, V) -> (n, L, V).

    out = log_softmax(u) + scale * (log_softmax(c) - log_softmax(u)), i.e. the
    posterior p_u^(1-scale) p_c^scale up to normalisation (softmax renormalises it);
    adding raw logits instead would mix in arbitrary per-position offsets.
    """
    lc = torch.log_softmax(cond_output, -1)
    lu = torch.log_softmax(uncond_output, -1)
    return lu + scale * (lc - lu)
