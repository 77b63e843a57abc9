"""The two loss forms, FrameFlow's time weighting and self-conditioning of a training step.

These are options of the one Trainer that act on every Space
through the contract only (``loss``, ``x1_loss_scale``, ``x1_estimate``), kept apart from
the loop so the step stays readable.

Per example, with L_v = ``space.loss(output, sample)`` (the velocity form)::

    loss_form "velocity":  L = L_v
    loss_form "x1":        L = L_v * space.x1_loss_scale(t)     (x1 error at x_t; see
                                                                  manifold_fm.spaces.x1_param)
    loss_weighting "frameflow":  L <- L / (1 - min(t, 0.9))^2   (FrameFlow's 1/(1-min(t,0.9))
                                                                  on the error, squared)

With the linear schedule, ``x1`` + ``frameflow`` equals the velocity loss for t < 0.9 and
caps its 1/(1-t)^2 growth above.

Self-conditioning (``TrainConfig.self_condition``, Chen et al. 2022 as in FrameFlow): with
probability 1/2 per batch (a coin from the run's generator) the model first runs without
gradient, and its estimate ``space.x1_estimate(x_t, output, t)`` is passed to the real
forward as ``self_cond``; otherwise ``self_cond=None``. The model must take ``self_cond``
(:func:`check_self_condition`). At sampling, wrap the model in
:class:`manifold_fm.nn.SelfConditioning`, which always feeds the previous estimate back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from manifold_fm.conditioning import SELF_COND, check_self_condition
from manifold_fm.spaces.contract import PathSample, Space

__all__ = [
    "LOSS_FORMS",
    "LOSS_WEIGHTINGS",
    "SELF_COND",
    "check_self_condition",
    "self_condition",
    "weighted_loss",
]

LOSS_FORMS = ("velocity", "x1")
LOSS_WEIGHTINGS = ("none", "frameflow")


def weighted_loss(
    space: Space, output: Tensor, sample: PathSample, form: str, weighting: str
) -> Tensor:
    """Per-example loss ``batch_shape`` in ``form`` with ``weighting`` (module docstring)."""
    loss = space.loss(output, sample)
    if form == "x1":
        loss = loss * space.x1_loss_scale(sample.t, sample.x_t).to(loss.dtype)
    if weighting == "frameflow":
        loss = loss / (1 - sample.t.clamp(max=0.9)).to(loss.dtype) ** 2
    return loss


def self_condition(
    forward: Callable[..., Tensor],
    space: Space,
    x_t: Tensor,
    t: Tensor,
    cond: dict[str, Any],
    generator: torch.Generator,
) -> dict[str, Any]:
    """``cond`` plus ``self_cond``: the no-grad estimate with probability 1/2, else None."""
    coin = torch.rand((), generator=generator, device=generator.device)
    if bool(coin < 0.5):  # one scalar read per step, only when self-conditioning is on
        with torch.no_grad():
            out = forward(x_t, t, **cond, **{SELF_COND: None})
            est = space.x1_estimate(x_t, out, t).detach()
        return {**cond, SELF_COND: est}
    return {**cond, SELF_COND: None}
