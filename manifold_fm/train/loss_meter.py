"""Loss accounting without host syncs inside a step, the non-finite-loss stop, and the
summary a training run returns (:class:`TrainResult`).

Each step adds its loss to a device accumulator and records the first non-finite step as
a device tensor; the host reads them (one sync, all-reduced under DDP) only when a
logging window closes or before a checkpoint. So a NaN/inf stops the run with
:class:`NonFiniteLossError` naming the step, at most ``log_every`` steps late, and a
checkpoint is never written from a poisoned state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from manifold_fm.errors import ManifoldFMError
from manifold_fm.train.distributed import DistInfo

__all__ = ["LossMeter", "NonFiniteLossError", "TrainResult"]


class NonFiniteLossError(ManifoldFMError, RuntimeError):
    """The training loss became NaN or inf; ``step`` is the first bad step."""

    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        steps: optimiser steps completed in total (including resumed ones).
        final_loss: mean loss over the last logging window.
        losses: mean loss of each logging window (every ``log_every`` steps).
        loss_steps: the step at the end of each window.
        wall_s: seconds spent in this ``fit`` call.
        steps_per_s: steps of this call divided by ``wall_s``.
        ckpt_path: last checkpoint written (None without ``out_dir``).
    """

    steps: int
    final_loss: float
    losses: list[float] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    steps_per_s: float = 0.0
    ckpt_path: str | None = None


class LossMeter:
    """Window means of the training loss over ``log_every`` steps.

    Attributes:
        total: device float32 scalar, sum of the finite losses of the open window.
        since_log: steps in the open window.
        losses, loss_steps: mean loss of each closed window and the step it closed at.
    """

    def __init__(self, device: torch.device) -> None:
        self.total = torch.zeros((), device=device, dtype=torch.float32)
        self.since_log = 0
        self.losses: list[float] = []
        self.loss_steps: list[int] = []
        self._step = torch.zeros((), device=device, dtype=torch.long)
        self._first_bad = torch.full((), -1, device=device, dtype=torch.long)

    def add(self, loss: Tensor) -> None:
        """Count one step's scalar ``loss`` (device ops only; no host sync)."""
        lv = loss.detach().float()
        finite = torch.isfinite(lv)
        self._step += 1
        self.total += torch.where(finite, lv, torch.zeros_like(lv))
        self._first_bad = torch.where(
            (~finite) & (self._first_bad < 0), self._step, self._first_bad
        )
        self.since_log += 1

    def check_finite(self, info: DistInfo, ckpt_path: Path | None) -> None:
        """Host sync: raise NonFiniteLossError if any rank saw a non-finite loss.

        The message names the first bad step (minimum over ranks) and the last good
        checkpoint ``ckpt_path``.
        """
        bad = self._first_bad.clone()
        if info.enabled:
            # ranks without a bad step report a huge value so MIN finds the first bad one
            big = torch.iinfo(torch.long).max
            bad = torch.where(bad < 0, torch.full_like(bad, big), bad)
            dist.all_reduce(bad, op=dist.ReduceOp.MIN)
            bad = torch.where(bad == big, torch.full_like(bad, -1), bad)
        step = int(bad)
        if step >= 0:
            where = (
                f"; last good checkpoint: {ckpt_path}"
                if ckpt_path is not None
                else "; no checkpoint was written"
            )
            raise NonFiniteLossError(
                step, f"non-finite (NaN/inf) training loss at step {step}{where}"
            )

    def close_window(self, step: int, info: DistInfo) -> float:
        """Mean loss of the open window (averaged over ranks), recorded at ``step``.

        mean = (sum over ranks of total / world) / since_log; the window restarts empty.
        """
        total = self.total.clone()
        if info.enabled:
            dist.all_reduce(total)
            total /= info.world_size
        mean = float(total) / max(self.since_log, 1)
        self.total.zero_()
        self.since_log = 0
        self.losses.append(mean)
        self.loss_steps.append(step)
        return mean

    def state_dict(self) -> dict[str, Any]:
        """The window position and history (the per-rank ``total`` goes with the rank)."""
        return {
            "since_log": self.since_log,
            "losses": list(self.losses),
            "loss_steps": list(self.loss_steps),
        }

    def load_state_dict(self, state: dict[str, Any], step: int) -> None:
        """Restore :meth:`state_dict`; ``step`` is the resumed optimiser step."""
        self.since_log = int(state["since_log"])
        self.losses = [float(v) for v in state["losses"]]
        self.loss_steps = [int(v) for v in state["loss_steps"]]
        self._step.fill_(step)
