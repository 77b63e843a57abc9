"""Construction of what a training step runs: device, process group, device model,
DDP/compile wrapper, EMA, AdamW, autocast.

Kept apart from the loop so :class:`~manifold_fm.train.Trainer` reads as the step itself:
:func:`check_arguments` rejects wrong argument types, :func:`setup_device` picks the
device and joins torchrun's process group, :func:`build_parts` turns a model and a
:class:`~manifold_fm.train.config.TrainConfig` into a :class:`TrainParts`; all once,
before any step.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.spaces.base import Space
from manifold_fm.train.config import TrainConfig
from manifold_fm.train.distributed import DistInfo, init_distributed, resolve_device
from manifold_fm.train.ema import EMA
from manifold_fm.train.lr import lr_factor

__all__ = ["TrainParts", "build_parts", "check_arguments", "float_dtype", "setup_device"]


def check_arguments(space: Any, model: Any, config: Any) -> TrainConfig:
    """The Trainer's config (defaults if None), after TypeError/ValueError checks of all
    three arguments' types and of ``ckpt_every`` / ``resume`` needing ``out_dir``."""
    cfg = TrainConfig() if config is None else config
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(cfg).__name__}")
    if not isinstance(space, Space):
        raise TypeError(f"space must be a manifold_fm Space, got {type(space).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if (cfg.ckpt_every or cfg.resume) and cfg.out_dir is None:
        raise ValueError("TrainConfig.ckpt_every / resume need TrainConfig.out_dir")
    return cfg


def setup_device(cfg: TrainConfig) -> tuple[torch.device, DistInfo]:
    """The training device (``cfg.device``, cuda:LOCAL_RANK for 'auto' under torchrun)
    and this process's place in the process group (initialised here under torchrun)."""
    device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)  # nccl collectives use the current device
    return device, init_distributed(device)


def float_dtype(model: nn.Module) -> torch.dtype:
    """dtype of the first floating-point parameter (the default dtype if there is none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


@dataclass
class TrainParts:
    """Everything a step needs besides the data.

    Attributes:
        model: the raw model, on the training device (what checkpoints store).
        forward: what the step calls: ``model``, wrapped in DDP under torchrun and in
            ``torch.compile`` when asked.
        ema: the averaged copy of ``model``.
        params: trainable parameters (``requires_grad``), clipped and optimised.
        optimizer: AdamW over ``params`` (fused on CUDA, foreach on CPU).
        autocast: bf16 autocast context when ``amp``, else a null context.
        amp: whether the forward runs under bf16 autocast.
        dtype: the model's floating dtype; float data is cast to it.
    """

    model: nn.Module
    forward: nn.Module
    ema: EMA
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    autocast: Any
    amp: bool
    dtype: torch.dtype

    def update(self, loss: Tensor, step: int, cfg: TrainConfig) -> None:
        """Backward ``loss``, clip the global gradient norm, set the LR of ``step``
        (1-based: warmup then the schedule), take the AdamW step and update the EMA."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip, foreach=True)
        lr = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup_steps, cfg.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.ema.update(step)


def build_parts(
    model: nn.Module, cfg: TrainConfig, device: torch.device, dist: DistInfo
) -> TrainParts:
    """Move ``model`` to ``device`` and build its wrapper, EMA, optimizer and autocast.

    Raises ValueError when the model has no trainable parameter (nothing to optimise).
    """
    model = model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    ema = EMA(model, cfg.ema_decay)
    forward: nn.Module = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        forward = DistributedDataParallel(model, device_ids=ids)
    if cfg.compile:
        forward = torch.compile(forward)
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(
        params,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        fused=fused or None,
        foreach=None if fused else True,
    )
    amp = cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    )
    return TrainParts(model, forward, ema, params, optimizer, autocast, amp, float_dtype(model))
