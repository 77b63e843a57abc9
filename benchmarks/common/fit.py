"""Training with model selection, shared by the likelihood benchmarks (and their slow tests).

Runs :class:`manifold_fm.train.Trainer` (AdamW, cosine LR, EMA of weights) in chunks of
``eval_every`` steps -- ``Trainer.fit(until=k)`` keeps the full run's LR schedule -- and
keeps the EMA weights with the best validation score, as the published protocol selects
models on validation NLL with EMA weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from manifold_fm.cli.registry import MODELS
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.spaces.torus import FlatTorus
from manifold_fm.train import TrainConfig, Trainer

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
    #: input encoding of the MLP (manifold_fm.nn.features): none, octaves, harmonics, random
    features: str = "none"
    octaves: int = 8
    harmonics: int = 4


@dataclass
class FitResult:
    """The selected EMA model, its validation score and the score history."""

    model: nn.Module
    best_score: float
    best_step: int
    history: list[tuple[int, float]] = field(default_factory=list)


def make_model(space: ManifoldSpace, cfg: FitConfig) -> nn.Module:
    """The registry's TimeMLP sized for ``space``, output projected onto the tangent space.

    On the flat torus without features the input is embedded as (cos, sin) (``periodic``),
    so the field is continuous across the 0 / 2 pi seam; with ``features`` the encoding is
    the config's (``harmonics`` on angles is periodic by construction).
    """
    section = {"kind": "mlp", "hidden": cfg.hidden, "depth": cfg.depth}
    if cfg.features != "none":
        enc = {"features": cfg.features, "octaves": cfg.octaves, "harmonics": cfg.harmonics}
        return MODELS.build({**section, **enc}, space)
    return MODELS.build({**section, "periodic": isinstance(space, FlatTorus)}, space)


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
    torch.manual_seed(cfg.seed)
    model = make_model(space, cfg).to(device=data.device, dtype=data.dtype)
    trainer = Trainer(
        space,
        model,
        data,
        TrainConfig(
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            warmup_steps=0,
            lr_schedule="cosine",
            grad_clip=0.0,
            ema_decay=cfg.ema_decay,
            seed=cfg.seed,
            device=str(data.device),
            log_every=max(1, min(100, cfg.steps)),
            progress=False,
        ),
    )
    every = cfg.eval_every if (score is not None and cfg.eval_every) else cfg.steps
    stops = sorted({*range(every, cfg.steps + 1, every), cfg.steps})
    best, best_step, best_state, history = math.inf, cfg.steps, None, []
    for stop in stops:
        trainer.fit(until=stop)
        if score is None:
            continue
        s = float(score(trainer.ema_model))
        history.append((stop, s))
        if s < best:
            best, best_step = s, stop
            best_state = copy.deepcopy(trainer.ema_model.state_dict())
    ema = trainer.ema_model
    if best_state is not None:
        ema.load_state_dict(best_state)
    return FitResult(model=ema, best_score=best, best_step=best_step, history=history)
