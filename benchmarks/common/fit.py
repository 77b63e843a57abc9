"""The flow fit of the likelihood benchmarks (nll, synthetic) and their model.

:func:`fit_flow` builds the benchmarks' MLP (:func:`make_model`, i.e.
:func:`manifold_fm.nn.build_mlp`) and trains it with :class:`manifold_fm.train.Trainer`
(AdamW, cosine LR, EMA of weights), selecting the EMA weights with the best validation
score every ``eval_every`` steps (:func:`manifold_fm.train.model_selection.fit_select_best`),
as the published protocol selects models on validation NLL with EMA weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from manifold_fm.nn import build_mlp
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.spaces.torus import FlatTorus
from manifold_fm.train import TrainConfig, Trainer
from manifold_fm.train.model_selection import SelectionResult, fit_select_best

__all__ = ["FitConfig", "FitResult", "fit_flow", "make_model"]


@dataclass(frozen=True)
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


#: the selected EMA model, its validation score, its step and the score history
FitResult = SelectionResult


def make_model(space: ManifoldSpace, cfg: FitConfig) -> nn.Module:
    """``build_mlp`` sized for ``space`` by ``cfg``, output projected onto the tangent space.

    On the flat torus without features the input is embedded as (cos, sin) (``periodic``),
    so the field is continuous across the 0 / 2 pi seam; with ``features`` the encoding is
    the config's (``harmonics`` on angles is periodic by construction).
    """
    if cfg.features != "none":
        return build_mlp(
            space,
            hidden=cfg.hidden,
            depth=cfg.depth,
            features=cfg.features,
            octaves=cfg.octaves,
            harmonics=cfg.harmonics,
        )
    return build_mlp(
        space, hidden=cfg.hidden, depth=cfg.depth, periodic=isinstance(space, FlatTorus)
    )


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
    return fit_select_best(trainer, score, eval_every=cfg.eval_every)
