"""Model wrappers for data prediction and self-conditioning on any ManifoldSpace.

A network that predicts the clean point x1_hat (FrameFlow,
FoldFlow, AlphaFold-style frame updates) must look like a velocity model to the Trainer,
the samplers and the likelihood; :class:`X1Prediction` does the conversion
u = kappa'/(1-kappa) log_{x_t}(x1_hat) (the space's ``x1_to_velocity``). Self-conditioning
at sampling needs the previous estimate carried from one field evaluation to the next:
:class:`SelfConditioning` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import SELF_COND, accepted_cond_keys, check_self_condition
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = ["SelfConditioning", "X1Prediction"]


class X1Prediction(nn.Module):
    """``net(x_t, t, **cond) -> x1_hat`` as a velocity model on ``space``.

    forward returns ``space.x1_to_velocity(x_t, projx(x1_hat), t)``, shape
    ``batch + tangent_shape``; conditions (and ``self_cond``, ``mask``) go to ``net``.
    With ``project=False`` the prediction is used as given (it must lie on the manifold).
    """

    def __init__(self, net: nn.Module, space: Space, project: bool = True) -> None:
        super().__init__()
        if not isinstance(space, ManifoldSpace):
            raise TypeError(
                f"X1Prediction needs a ManifoldSpace (a velocity to convert to), got "
                f"{type(space).__name__}"
            )
        self.net, self.space, self.project = net, space, bool(project)

    def predict_x1(self, x_t: Tensor, t: Tensor, **cond: Any) -> Tensor:
        """The network's clean point ``batch + event_shape`` (projected when ``project``)."""
        x1_hat = self.net(x_t, t, **cond)
        if x1_hat.shape != x_t.shape:
            raise ValueError(
                f"X1Prediction: net must return points shaped like x_t {tuple(x_t.shape)}, "
                f"got {tuple(x1_hat.shape)}"
            )
        return self.space.projx(x1_hat) if self.project else x1_hat

    def forward(self, x_t: Tensor, t: Tensor, **cond: Any) -> Tensor:
        return self.space.x1_to_velocity(x_t, self.predict_x1(x_t, t, **cond), t)


class SelfConditioning(nn.Module):
    """Sampling wrapper: call ``model`` with ``self_cond`` = the previous estimate.

    The first evaluation of a trajectory gets ``self_cond=None``; each evaluation then
    stores ``space.x1_estimate(x, output, t)`` for the next. A time earlier than the last
    one seen starts a new trajectory (so one wrapper serves several ``sample`` calls);
    :meth:`reset` does it explicitly. Use as ``sample(SelfConditioning(model, space), ...)``.
    """

    def __init__(self, model: nn.Module | Callable[..., Tensor], space: Space) -> None:
        super().__init__()
        check_self_condition(model)
        self.model, self.space = model, space
        self._prev: Tensor | None = None
        self._last_t: float | None = None

    @property
    def cond_keys(self) -> frozenset[str] | None:
        """What the wrapped model takes, less ``self_cond`` (this wrapper supplies it)."""
        keys = accepted_cond_keys(self.model)
        return None if keys is None else keys - {SELF_COND}

    def reset(self) -> None:
        """Forget the previous estimate."""
        self._prev, self._last_t = None, None

    def forward(self, x: Tensor, t: Tensor, **cond: Any) -> Tensor:
        t_now = float(t.reshape(-1)[0]) if t.numel() else 0.0
        stale = self._prev is not None and self._prev.shape[0] != x.shape[0]
        if self._last_t is None or t_now < self._last_t or stale:
            self._prev = None
        out = self.model(x, t, **cond, **{SELF_COND: self._prev})
        with torch.no_grad():
            self._prev = self.space.x1_estimate(x, out, t).detach()
        self._last_t = t_now
        return out
