"""The vector field a sampler integrates: the model, guidance, policies, the ambient adapter.

Everything that decides *which* ODE is integrated lives here, apart
from the integrators that decide *how*. :class:`VelocityField` evaluates the model (with
classifier-free guidance) and then applies sampler policies such as :class:`RotationRate`,
so every method -- euler, midpoint, rk4 and the adaptive torchdiffeq ones -- integrates the
same field v(x, t). :class:`AmbientODE` is the one adapter from a tangent field to the
ambient right-hand side torchdiffeq needs, shared by the sampler and the likelihood::

    dx/dt = A(P(x), proju(P(x), v(P(x), t)))

with P = ``space.projx`` and A = ``space.to_ambient_velocity``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import with_dropped
from manifold_fm.spaces.base import ManifoldSpace, Space
from manifold_fm.spaces.rotational import RotationalSpace

__all__ = [
    "TORCHDIFFEQ_ADAPTIVE",
    "TORCHDIFFEQ_FIXED",
    "AmbientODE",
    "FieldPolicy",
    "RotationRate",
    "VelocityField",
    "model_params",
    "odeint_ambient",
]

#: torchdiffeq's adaptive step-size methods (its ``AdaptiveStepsizeODESolver`` subclasses in
#: ``torchdiffeq._impl.odeint.SOLVERS``): they choose their own steps to meet atol / rtol
#: and only report the state at the requested times
TORCHDIFFEQ_ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
#: torchdiffeq's fixed-grid methods (its ``FixedGridODESolver`` subclasses): one step per
#: interval of the times they are given, so a caller must pass the whole time grid (given
#: only the two end times they take a single step); ``fixed_adams`` is torchdiffeq's old
#: name of ``implicit_adams``
TORCHDIFFEQ_FIXED = (
    "euler",
    "midpoint",
    "rk4",
    "heun2",
    "heun3",
    "explicit_adams",
    "implicit_adams",
    "fixed_adams",
)


class FieldPolicy:
    """A sampler policy: a change of the field, v'(x, t) = policy(space, x, t, v(x, t)).

    Subclasses implement :meth:`__call__` (``x``: ``(n, *event_shape)``, ``t``: ``(n,)``,
    ``output``: ``(n, *output_shape)``, returns the same shape) and may refuse a space in
    :meth:`check`, which runs before any sampling work.
    """

    def check(self, space: Space) -> None:
        """Raise TypeError if the policy cannot act on ``space`` (default: any space)."""

    def __call__(self, space: Space, x: Tensor, t: Tensor, output: Tensor) -> Tensor:
        raise NotImplementedError


class RotationRate(FieldPolicy):
    """FrameFlow's rotation-rate schedule: the rotation part of the field times c (1 - t).

    For a model trained on the linear schedule, whose rotation output is
    w = Log(R^T R1_hat) / (1 - t), the field becomes c Log(R^T R1_hat): rotations converge
    exponentially fast, as if kappa_rot(t) = 1 - exp(-c t) (FoldFlow's inference scaling).
    Acts through ``space.scale_rotation``: the space must be a
    :class:`~manifold_fm.spaces.rotational.RotationalSpace` (SO3, SE3, products holding
    them); :meth:`check` refuses any other space with a TypeError naming it, before any
    sampling work (a rate that silently did nothing would hide a wrong setup).

    Args:
        rotation_rate: the rate c > 0.
    """

    def __init__(self, rotation_rate: float) -> None:
        ok = isinstance(rotation_rate, (int, float)) and not isinstance(rotation_rate, bool)
        if not (ok and 0 < rotation_rate < math.inf):
            raise ValueError(f"RotationRate: rotation_rate must be > 0, got {rotation_rate!r}")
        self.rate = float(rotation_rate)

    def check(self, space: Space) -> None:
        if not isinstance(space, RotationalSpace):
            raise TypeError(
                f"{space!r} has no rotation part: RotationRate needs a RotationalSpace, one "
                "with scale_rotation (SO3, SE3, products holding them)"
            )

    def __call__(self, space: Space, x: Tensor, t: Tensor, output: Tensor) -> Tensor:
        return space.scale_rotation(output, self.rate * (1 - t))

    def __repr__(self) -> str:
        return f"RotationRate({self.rate:g})"


class VelocityField:
    """The model as a field on the space: ``field(x, t) -> output``.

    Calls ``model(x, t_batch, **cond)``; with ``guidance_scale`` w the output is
    ``space.guide(cond_out, uncond_out, w)`` where the unconditional output comes from
    ``model(x, t, **cond, cond_drop=True)``; then each policy in ``policies`` is applied in
    order. ``x``: ``(n, *event_shape)``; ``t``: scalar; output ``(n, *output_shape)``.
    """

    def __init__(
        self,
        model: nn.Module | Callable[..., Tensor],
        space: Space,
        cond: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        mask: Tensor | None = None,
        policies: Sequence[FieldPolicy] = (),
    ) -> None:
        self.model, self.space = model, space
        self.cond = dict(cond or {})
        if mask is not None:
            self.cond["mask"] = mask
        self.guidance_scale = guidance_scale
        if guidance_scale is not None and not cond:
            raise ValueError("guidance_scale needs a condition: pass cond={...}")
        for p in policies:
            if not isinstance(p, FieldPolicy):
                raise TypeError(f"policies must be FieldPolicy objects, got {type(p).__name__}")
            p.check(space)
        self.policies = tuple(policies)
        self._uncond: dict[str, Any] | None = None
        self.nfe = 0

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        n = x.shape[0]
        tdtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()  # token ids
        tb = torch.as_tensor(t, device=x.device, dtype=tdtype).expand(n)
        out = self.model(x, tb, **self.cond)
        self.nfe += 1
        if self.guidance_scale is not None:
            if self._uncond is None:
                drop = torch.ones(n, dtype=torch.bool, device=x.device)
                self._uncond = with_dropped(self.cond, drop)
            self.nfe += 1
            out = self.space.guide(out, self.model(x, tb, **self._uncond), self.guidance_scale)
        for policy in self.policies:
            out = policy(self.space, x, tb, out)
        return out


class AmbientODE(nn.Module):
    """torchdiffeq right-hand side on ambient states (module docstring).

    ``field(xp, t)`` returns the tangent output v, or a tuple ``(v, *rates)``; the state is
    ``x`` or ``(x, *accumulators)`` accordingly, and the extra rates (the likelihood's
    divergence) are returned unchanged as the accumulators' derivatives.
    """

    def __init__(self, space: ManifoldSpace, field: Callable[[Tensor, Tensor], Any]) -> None:
        super().__init__()
        self.space, self.field = space, field

    def forward(self, t: Tensor, state: Tensor | tuple[Tensor, ...]) -> Any:
        augmented = isinstance(state, tuple)
        xp = self.space.projx(state[0] if augmented else state)
        out = self.field(xp, t)
        v, rates = (out[0], tuple(out[1:])) if augmented else (out, ())
        dx = self.space.to_ambient_velocity(xp, self.space.proju(xp, v))
        return (dx, *rates) if augmented else dx


def odeint_ambient(
    space: ManifoldSpace,
    field: Callable[[Tensor, Tensor], Any],
    state: Tensor | tuple[Tensor, ...],
    times: Tensor,
    method: str,
    atol: float,
    rtol: float,
    *,
    adjoint: bool = False,
    params: Sequence[Tensor] = (),
) -> Any:
    """Integrate :class:`AmbientODE` with torchdiffeq at ``times`` (k,).

    Returns torchdiffeq's solution: ``(k, *state.shape)`` (or a tuple of those), states not
    yet projected onto the manifold. torchdiffeq reports bad methods by AssertionError.
    With ``adjoint`` the solve is ``torchdiffeq.odeint_adjoint``: its backward pass solves
    the adjoint ODE (same method and tolerances) instead of storing the forward graph,
    giving gradients to ``state`` and to ``params`` (the model's parameters).
    """
    import torchdiffeq

    rhs = AmbientODE(space, field)
    if not adjoint:
        return torchdiffeq.odeint(rhs, state, times, method=method, atol=atol, rtol=rtol)
    params = tuple(p for p in params if p.requires_grad)
    return torchdiffeq.odeint_adjoint(
        rhs, state, times, method=method, atol=atol, rtol=rtol, adjoint_params=params
    )


def model_params(model: Any) -> tuple[Tensor, ...]:
    """The parameters an adjoint solve differentiates: a module's, none for a function."""
    return tuple(model.parameters()) if isinstance(model, nn.Module) else ()
