"""Exponential moving average of model weights, used for evaluation and sampling.

ema <- ema + (1 - decay) * (param - ema), applied with one fused ``torch._foreach_lerp_``
over all floating-point parameters (no per-parameter Python work beyond the list, no host
sync). Buffers are copied. The averaged copy lives in eval mode with gradients disabled.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Keeps ``module``, an eval-mode averaged copy of ``model``.

    Args:
        model: the raw (unwrapped) model being trained.
        decay: per-step decay in [0, 1); 0 makes the EMA equal to the current weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        pairs = [
            (e, p)
            for e, p in zip(self.module.parameters(), model.parameters())
            if p.is_floating_point()
        ]
        self._ema = [e for e, _ in pairs]
        self._src = [p for _, p in pairs]
        self._ema_buf = list(self.module.buffers())
        self._src_buf = list(model.buffers())

    @torch.no_grad()
    def update(self) -> None:
        """One EMA step from the source model's current weights."""
        if self._ema:
            torch._foreach_lerp_(self._ema, self._src, 1.0 - self.decay)
        for e, s in zip(self._ema_buf, self._src_buf):
            e.copy_(s)

    def state_dict(self) -> dict:
        """The averaged module's state dict."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Load averaged weights."""
        self.module.load_state_dict(state)
