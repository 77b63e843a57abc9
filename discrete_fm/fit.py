"""A minimal wall-clock-budgeted training loop for CTMC models (space.path + space.loss).

Why this file exists: the benchmarks need to train a CTMC model for a fixed wall-clock
budget before ``manifold_fm.train.Trainer`` is available; this loop uses nothing but the
Space contract (sample_prior, path, loss), so swapping in the Trainer changes no math.
Times are antithetic/stratified: t_i = (u + i/B) mod 1 (MD4 Alg. 1), clipped to
[0, 1 - t_eps].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from discrete_fm.space import CTMCSpace

__all__ = ["FitReport", "fit"]


@dataclass
class FitReport:
    """steps taken, wall seconds, mean loss of the last 50 steps, loss every ``log_every``."""

    steps: int
    wall_s: float
    final_loss: float
    losses: list[float] = field(default_factory=list)


def fit(
    space: CTMCSpace,
    model: nn.Module,
    data: Tensor,
    *,
    budget_s: float,
    max_steps: int | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    clip: float = 1.0,
    t_eps: float = 1e-3,
    log_every: int = 50,
    generator: torch.Generator | None = None,
) -> FitReport:
    """Train ``model`` on rows of ``data`` (N, L) until ``budget_s`` seconds or ``max_steps``.

    Each step: x1 = random rows, t stratified, x0 ~ p0, x_t ~ p_t(. | x0, x1), loss =
    mean_b space.loss(model(x_t, t), sample); AdamW(lr, weight decay 0), grad-norm clip.
    """
    if data.dim() != 2 or data.dtype != torch.long:
        raise ValueError(f"fit: data must be long (N, L), got {data.dtype} {tuple(data.shape)}")
    if not budget_s > 0:
        raise ValueError(f"fit: budget_s must be > 0, got {budget_s}")
    dev = next(model.parameters()).device
    data = data.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    recent: list[float] = []
    steps, t0 = 0, time.perf_counter()
    offsets = torch.arange(batch_size, device=dev) / batch_size
    while time.perf_counter() - t0 < budget_s and (max_steps is None or steps < max_steps):
        idx = torch.randint(0, data.shape[0], (batch_size,), generator=generator, device=dev)
        x1 = data[idx]
        u = torch.rand((), generator=generator, device=dev)
        t = ((u + offsets) % 1.0).clamp_max(1 - t_eps)
        x0 = space.sample_prior(batch_size, generator=generator, device=dev)
        s = space.path(x0, x1, t, generator=generator)
        loss = space.loss(model(s.x_t, s.t), s).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        steps += 1
        recent = [*recent[-49:], float(loss)]
        if steps % log_every == 0:
            losses.append(sum(recent) / len(recent))
    model.eval()
    final = sum(recent) / len(recent) if recent else float("nan")
    return FitReport(steps=steps, wall_s=time.perf_counter() - t0, final_loss=final, losses=losses)
