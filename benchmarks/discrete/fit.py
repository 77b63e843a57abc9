"""Budgeted training of the discrete benchmarks' models: the AR baseline and CTMC models.

The text and sequence benchmarks, the gap-against-compute runner and
the lever runner all train for a *time budget* (wall or CPU seconds) rather than a step
count, and the runners continue one run across several budgets and resume it after a
kill. One implementation of that loop for each model kind, here:

* :func:`fit_ar` trains :class:`ARModel`-like models (``model.logits(x)``) with AdamW;
* :func:`ctmc_trainer` builds the shared :class:`manifold_fm.train.Trainer` for a CTMC
  model from a base recipe plus lever options (validated by :class:`TrainConfig`), and
  :func:`train_for` continues it until a budget is spent;

Budgets are measured with a ``clock`` (default ``time.perf_counter``; the runners use
``time.process_time``, CPU seconds of this process, so that runs sharing a machine are
compared at equal compute).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from manifold_fm.train.lr import lr_factor

__all__ = [
    "FitReport",
    "budgeted_steps",
    "clipped_step",
    "ctmc_trainer",
    "fit_ar",
    "fit_ctmc",
    "set_warmup_lr",
    "train_for",
]

#: TrainConfig keys a lever may set on a CTMC fit (the rest of the recipe is fixed)
LEVER_KEYS = ("warmup_steps", "lr_schedule", "steps", "time_sampling", "self_condition")


@dataclass
class FitReport:
    """Steps taken, seconds on the fit's clock and mean loss of the last 50 steps.

    ``loss_label`` says what the loss is (e.g. "ce loss (not a NELBO)"): training losses
    of different models are not comparable with each other or with a likelihood.
    """

    steps: int
    wall_s: float
    final_loss: float
    losses: list[float] = field(default_factory=list)
    loss_label: str = ""


def fit_ar(
    model: nn.Module,
    data: Tensor,
    *,
    budget_s: float,
    batch_size: int = 32,
    lr: float = 1e-3,
    clip: float = 1.0,
    generator: torch.Generator | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    clock: Callable[[], float] = time.perf_counter,
    warmup_steps: int = 0,
) -> FitReport:
    """Train the AR baseline with AdamW (grad clip; lr warmed up linearly over
    ``warmup_steps``, then constant) for ``budget_s`` seconds.

    Loss: mean next-token cross-entropy (nats/token) of ``model.logits(x)`` (n, L, V) on
    batches of ``data`` (N, L). Pass ``optimizer`` (and the same ``generator``) to continue
    an earlier fit; ``FitReport.steps`` counts this call's steps.
    """
    if not budget_s >= 0:
        raise ValueError(f"fit_ar: budget_s must be >= 0, got {budget_s!r}")
    opt = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)

    def batch_loss() -> Tensor:
        x = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
        return F.cross_entropy(model.logits(x).flatten(0, 1), x.flatten())

    return budgeted_steps(
        model,
        opt,
        batch_loss,
        budget_s=budget_s,
        lr=lr,
        clip=clip,
        clock=clock,
        warmup_steps=warmup_steps,
        loss_label="AR cross-entropy (nats/token)",
    )


def budgeted_steps(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    batch_loss: Callable[[], Tensor],
    *,
    budget_s: float,
    lr: float,
    clip: float,
    clock: Callable[[], float],
    warmup_steps: int,
    loss_label: str,
) -> FitReport:
    """Optimiser steps on ``batch_loss()`` until ``budget_s`` seconds of ``clock`` have passed.

    Each step: the loss of a fresh batch, the warmed-up lr (:func:`set_warmup_lr`), one
    clipped step (:func:`clipped_step`). The model trains in train mode and is left in
    eval mode; ``FitReport.final_loss`` is the mean loss of the last 50 steps.
    """
    model.train()
    recent: list[float] = []
    steps, t0 = 0, clock()
    while clock() - t0 < budget_s:
        loss = batch_loss()
        set_warmup_lr(opt, lr, steps + 1, warmup_steps)
        recent = [*recent[-49:], clipped_step(opt, loss, model, clip)]
        steps += 1
    model.eval()
    final = sum(recent) / max(len(recent), 1)
    return FitReport(steps, clock() - t0, final, loss_label=loss_label)


def set_warmup_lr(opt: torch.optim.Optimizer, lr: float, step: int, warmup_steps: int) -> None:
    """Set every group's lr to ``lr * lr_factor(step)`` (linear warmup over
    ``warmup_steps``, then constant; ``step`` 1-based); nothing when ``warmup_steps`` is 0,
    so a continued fit keeps its optimiser's lr."""
    if warmup_steps <= 0:
        return
    factor = lr_factor(step, step, warmup_steps, "constant")
    for group in opt.param_groups:
        group["lr"] = lr * factor


def clipped_step(opt: torch.optim.Optimizer, loss: Tensor, model: nn.Module, clip: float) -> float:
    """One optimiser step on ``loss`` with the gradient norm clipped to ``clip``; the
    loss value (one host read, as these CPU-budget loops log a running mean)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item()


def ctmc_trainer(
    space,
    model: nn.Module,
    data: Tensor,
    *,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    chunk: int = 10,
    **levers: Any,
):
    """The shared Trainer for a budgeted CTMC fit.

    Base recipe: constant lr, no warmup, no EMA (the runs are short), grad clip 1, t ~
    U[0, 1). ``levers`` override the keys in :data:`LEVER_KEYS` (``lr_schedule="cosine"``
    needs ``steps``, the step at which the lr reaches 0); TrainConfig validates the values.
    """
    from manifold_fm.train import TrainConfig, Trainer

    unknown = sorted(set(levers) - set(LEVER_KEYS))
    if unknown:
        raise ValueError(f"ctmc_trainer: unknown lever(s) {unknown}; allowed: {LEVER_KEYS}")
    if levers.get("lr_schedule") == "cosine" and "steps" not in levers:
        raise ValueError("ctmc_trainer: lr_schedule='cosine' needs steps (where lr reaches 0)")
    cfg = {
        "steps": 10**7,
        "warmup_steps": 0,
        "lr_schedule": "constant",
        "time_sampling": "uniform",
        "self_condition": False,
        **levers,
    }
    config = TrainConfig(
        batch_size=batch_size,
        lr=lr,
        ema_decay=0.0,
        grad_clip=1.0,
        device="cpu",
        seed=seed,
        log_every=chunk,
        progress=False,
        **cfg,
    )
    return Trainer(space, model, {"x1": data}, config)


def train_for(
    trainer, budget_s: float, *, chunk: int = 10, clock: Callable[[], float] = time.perf_counter
) -> FitReport:
    """Continue ``trainer`` in chunks of ``chunk`` steps until ``budget_s`` seconds of
    ``clock`` have passed (or its ``steps`` are done). ``FitReport.steps`` is the total."""
    if not budget_s >= 0:
        raise ValueError(f"train_for: budget_s must be >= 0, got {budget_s!r}")
    total = trainer.config.steps
    t0 = clock()
    while clock() - t0 < budget_s and trainer.step < total:
        trainer.fit(until=min(trainer.step + chunk, total))
    trainer.model.eval()
    losses = list(trainer.losses)
    final = losses[-1] if losses else float("nan")
    label = trainer.space.loss_label
    return FitReport(trainer.step, clock() - t0, final, losses, loss_label=label)


def fit_ctmc(
    space,
    model: nn.Module,
    data: Tensor,
    *,
    budget_s: float,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    chunk: int = 10,
    clock: Callable[[], float] = time.perf_counter,
    **levers: Any,
) -> FitReport:
    """Train a CTMC model for ``budget_s`` seconds of ``clock`` (ctmc_trainer, then train_for)."""
    tr = ctmc_trainer(
        space, model, data, batch_size=batch_size, lr=lr, seed=seed, chunk=chunk, **levers
    )
    return train_for(tr, budget_s, chunk=chunk, clock=clock)
