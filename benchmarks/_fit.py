"""One small training loop shared by the likelihood benchmarks (and their slow tests).

Stands in for ``manifold_fm.train.Trainer`` until that lands: geodesic flow matching with
the space's own ``path``/``loss``, AdamW, cosine LR, EMA of weights, and model selection on
a validation score of the EMA weights. Swap the body for the Trainer without touching the
benchmark scripts.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from manifold_fm.nn.mlp import TangentModel, TimeMLP
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.spaces.torus import FlatTorus

__all__ = ["FitConfig", "FitResult", "fit_flow", "make_model"]


@dataclass
class FitConfig:
    """Training settings (steps, batch size, optimiser, EMA, model size, evaluation)."""

    steps: int = 2000
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    hidden: int = 256
    depth: int = 4
    eval_every: int = 0
    seed: int = 0


@dataclass
class FitResult:
    """The selected EMA model, its validation score and the score history."""

    model: nn.Module
    best_score: float
    best_step: int
    history: list[tuple[int, float]] = field(default_factory=list)


class PeriodicInput(nn.Module):
    """Feed angles to the network as (cos x, sin x) so the field is periodic on the torus.

    A raw-angle MLP is discontinuous across the 0 / 2 pi seam, which a density model on
    T^d must not be (its divergence would carry a jump there).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, t: Tensor, **cond) -> Tensor:
        return self.net(torch.cat([torch.cos(x), torch.sin(x)], dim=-1), t, **cond)


def make_model(space: ManifoldSpace, cfg: FitConfig) -> nn.Module:
    """TimeMLP sized for ``space``, its output projected onto the tangent space.

    On the flat torus the input is embedded as (cos, sin) (see :class:`PeriodicInput`).
    """
    if isinstance(space, FlatTorus):
        d = space.dim
        net = TimeMLP(2 * d, d, hidden=cfg.hidden, depth=cfg.depth)
        return TangentModel(space, PeriodicInput(net))
    return TangentModel(space, TimeMLP.for_space(space, hidden=cfg.hidden, depth=cfg.depth))


def fit_flow(
    space: ManifoldSpace,
    data: Tensor,
    cfg: FitConfig,
    score: Callable[[nn.Module], float] | None = None,
) -> FitResult:
    """Train a flow on ``data`` (n, *event_shape); select the EMA model with the lowest score.

    Loss: E_{t, x0 ~ p0, x1 ~ data} |v(x_t, t) - u_t|^2_{x_t} (the space's loss). EMA
    decay min(ema_decay, (1 + k) / (10 + k)) at step k. ``score(ema_model)`` (e.g. the
    validation NLL) is evaluated every ``eval_every`` steps and at the end.
    """
    gen = torch.Generator(device=data.device).manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = make_model(space, cfg).to(device=data.device, dtype=data.dtype)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, cfg.steps) / cfg.steps))
    )
    n = data.shape[0]
    best, best_step, best_state, history = math.inf, 0, None, []
    for k in range(1, cfg.steps + 1):
        idx = torch.randint(0, n, (cfg.batch_size,), generator=gen, device=data.device)
        x1 = data[idx]
        x0 = space.sample_prior(cfg.batch_size, generator=gen, device=data.device, dtype=data.dtype)
        t = torch.rand(cfg.batch_size, generator=gen, device=data.device, dtype=data.dtype)
        sample = space.path(x0, x1, t)
        loss = space.loss(model(sample.x_t, sample.t), sample).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(cfg.ema_decay, (1 + k) / (10 + k))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        if score is not None and (k == cfg.steps or (cfg.eval_every and k % cfg.eval_every == 0)):
            s = float(score(ema))
            history.append((k, s))
            if s < best:
                best, best_step = s, k
                best_state = copy.deepcopy(ema.state_dict())
    if best_state is not None:
        ema.load_state_dict(best_state)
    else:
        best_step = cfg.steps
    return FitResult(model=ema, best_score=best, best_step=best_step, history=history)
