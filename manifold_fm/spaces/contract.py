"""The minimal Space contract, continuous or discrete, and the training-pair record.

:class:`Space` is what the trainer, samplers and benchmarks are written
against (prior, training pair, loss, one sampling step, validation), and the discrete CTMC
space implements only this layer; :mod:`manifold_fm.spaces.base` builds the Riemannian case
on it.

Shapes: a point batch has shape ``batch_shape + event_shape``; times ``t`` have shape
``batch_shape`` (or are broadcastable scalars); losses and log densities have shape
``batch_shape``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

__all__ = ["PathSample", "Space", "pad_time", "time_like"]


@dataclass
class PathSample:
    """One training pair drawn from a conditional probability path.

    Attributes:
        x_t: point on the path at time ``t``, shape ``batch_shape + event_shape``.
        target: what the model should output at ``(x_t, t)``: a tangent vector at ``x_t``
            for continuous spaces (same shape as the space's tangent representation), the
            clean tokens ``x1`` for discrete spaces.
        t: times, shape ``batch_shape``.
        x0: source points (kept for diagnostics and couplings).
        x1: data points.
        mask: optional boolean mask of shape ``batch_shape + event_shape[:mask_ndim]``
            (True = real position, False = padding); padded positions carry no loss.
        extras: space-specific fields; the trainer never reads them, only the space's own
            ``loss`` does.
    """

    x_t: Any
    target: Any
    t: Tensor
    x0: Any = None
    x1: Any = None
    mask: Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def time_like(t: Tensor | float, batch_shape: torch.Size, ref: Tensor) -> Tensor:
    """Return ``t`` as a tensor of shape ``batch_shape`` on ``ref``'s device and dtype.

    Accepts a Python float, a 0-d tensor, or a tensor broadcastable to ``batch_shape``.
    """
    t = torch.as_tensor(t, device=ref.device, dtype=ref.dtype)
    try:
        return t.expand(batch_shape) if t.shape != batch_shape else t
    except RuntimeError as err:
        raise ValueError(
            f"time tensor of shape {tuple(t.shape)} does not broadcast to the batch shape "
            f"{tuple(batch_shape)}"
        ) from err


def pad_time(t: Tensor, event_ndim: int) -> Tensor:
    """Append ``event_ndim`` singleton dims so ``t`` broadcasts against points."""
    return t.reshape(t.shape + (1,) * event_ndim)


class Space(abc.ABC):
    """Abstract data space for flow matching.

    Subclasses set ``event_shape`` (shape of one point) and implement the six methods
    below. The model is any ``nn.Module`` called as ``model(x_t, t, **cond)``; what its
    output means (tangent vector, Lie-algebra coordinates, logits) is for the space to say
    through :meth:`loss` and :meth:`step`.

    Padding masks: a space with ``mask_ndim > 0`` takes ``mask``, a bool tensor of shape
    ``batch_shape + event_shape[:mask_ndim]`` (True = real position), in
    :meth:`sample_prior`, :meth:`log_prior`, :meth:`path` and :meth:`step` alike, so callers
    pass one mask everywhere without asking which space they hold. Every shipped space
    accepts ``mask=None``; one with ``mask_ndim == 0`` refuses any other mask with a
    ValueError (:meth:`check_mask`). Callers pass ``mask`` only when they hold one, so a
    user space without masks may leave the parameter out.
    """

    event_shape: torch.Size
    #: number of leading event dims a padding mask covers (0: masks are not supported)
    mask_ndim: int = 0
    #: points are integer ids (tokens); a product stores them as floats and casts back
    integer_points: bool = False

    @property
    def output_shape(self) -> torch.Size:
        """Shape of one model output (tangent vector, Lie-algebra coordinates, logits)."""
        return self.event_shape

    def check_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """Validate a padding mask for points ``x``; return it as a bool tensor (or None)."""
        if mask is None:
            return None
        name = type(self).__name__
        if self.mask_ndim == 0:
            raise ValueError(
                f"{name} has no maskable positions; got a mask of shape "
                f"{tuple(mask.shape)} (pass mask=None)"
            )
        want = self.batch_shape(x) + self.event_shape[: self.mask_ndim]
        if tuple(mask.shape) != tuple(want):
            raise ValueError(
                f"{name}: mask must have shape {tuple(want)} for points of shape "
                f"{tuple(x.shape)}, got {tuple(mask.shape)}"
            )
        return mask.to(torch.bool)

    @property
    def event_ndim(self) -> int:
        """Number of trailing dimensions that make up one point."""
        return len(self.event_shape)

    def batch_shape(self, x: Tensor) -> torch.Size:
        """Leading (batch) shape of a tensor of points."""
        return x.shape[: x.dim() - self.event_ndim]

    def check_prior_mask(self, n: int, mask: Tensor | None) -> Tensor | None:
        """:meth:`check_mask` for a prior draw of ``n`` points (no points exist yet).

        ``mask`` must have shape ``(n, *event_shape[:mask_ndim])``; returns it as a bool
        tensor on its own device (or None), raises the ValueError of :meth:`check_mask`.
        """
        if mask is None:
            return None
        device = mask.device if isinstance(mask, Tensor) else None
        points = torch.zeros((), device=device).expand(n, *self.event_shape)  # shape only
        return self.check_mask(points, mask)

    @abc.abstractmethod
    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Draw ``n`` points from the source distribution p0, shape ``(n, *event_shape)``.

        ``mask`` (spaces with ``mask_ndim > 0``), shape ``(n, *event_shape[:mask_ndim])``:
        the draw is the prior of the real positions (SE(3) centres translations over the
        real residues); padded positions hold values nothing scores. Spaces with
        ``mask_ndim == 0`` take ``mask=None`` only (:meth:`check_prior_mask`).
        """

    @abc.abstractmethod
    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        """Log density (continuous, w.r.t. the Riemannian volume) or log pmf of p0 at ``x``.

        Shape ``batch_shape``. ``mask`` (spaces with ``mask_ndim > 0``), shape
        ``batch_shape + event_shape[:mask_ndim]``: the density of the real positions only,
        padded ones are not scored. Spaces with ``mask_ndim == 0`` take ``mask=None`` only
        (:meth:`check_mask`).
        """

    @abc.abstractmethod
    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: Tensor | None = None,
    ) -> PathSample:
        """Sample the conditional path between ``x0`` and ``x1`` at times ``t``.

        ``generator`` is the only source of randomness of stochastic paths (deterministic
        paths accept and ignore it); ``mask`` (spaces with ``mask_ndim > 0``) marks real
        positions, padded ones stay put.
        """

    @abc.abstractmethod
    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """Per-example loss of a model output against ``sample``, shape ``batch_shape``."""

    @abc.abstractmethod
    def step(
        self,
        x: Tensor,
        output: Tensor,
        t: Tensor | float,
        dt: Tensor | float,
        *,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Advance points ``x`` at time ``t`` by ``dt`` driven by the model ``output``.

        ``mask`` keeps padded positions fixed; ``generator`` seeds stochastic steps (CTMC).
        """

    @abc.abstractmethod
    def validate(self, x: Tensor) -> None:
        """Raise ``ValueError`` naming the first offending row and why ``x`` is invalid."""

    def validate_state(self, x: Tensor) -> None:
        """Check a sampler state (a point of the path at some t, e.g. a given x0).

        Default: the same check as data, :meth:`validate`. Spaces whose path visits points
        that are not data (the mask token of a CTMC) widen it.
        """
        self.validate(x)

    #: extra sampling methods this space supplies, name -> step function called as
    #: ``fn(space, x, output, t, dt, mask=mask, generator=generator)`` (the signature of
    #: :meth:`step`); :func:`manifold_fm.solvers.sample` adds them to its method table
    sampling_steps: ClassVar[Mapping[str, Callable[..., Tensor]]] = {}

    def x1_estimate(self, x_t: Tensor, output: Tensor, t: Tensor | float) -> Tensor:
        """The clean-point estimate a model ``output`` at ``(x_t, t)`` implies.

        What self-conditioning feeds back to the model. Default: the output itself (spaces
        whose outputs already predict x1, such as logits of the clean tokens);
        ManifoldSpace maps a velocity back to its point, exp_{x_t}(u / r(t)). The result
        has the dtype the space wants fed back (here that of ``x_t``).
        """
        return output.to(x_t.dtype)

    def x1_loss_scale(self, t: Tensor, x: Tensor) -> Tensor:
        """Factor ``batch_shape`` turning :meth:`loss` into the x1 form of the loss.

        ManifoldSpace gives 1 / r(t)^2 (:mod:`manifold_fm.spaces.x1_param`); the default
        refuses, for spaces whose loss has no velocity form to convert.
        """
        raise TypeError(
            f"{type(self).__name__} has no x1 form of its loss (its loss already scores the "
            "clean-point prediction); use loss_form='velocity'"
        )

    def guide(self, cond_output: Tensor, uncond_output: Tensor, scale: float) -> Tensor:
        """Classifier-free guidance: combine conditional and unconditional model outputs.

        out = uncond + scale * (cond - uncond); scale = 1 is the conditional model. Spaces
        whose outputs are not additive (for example logits) override this.
        """
        return uncond_output + scale * (cond_output - uncond_output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_shape={tuple(self.event_shape)})"
