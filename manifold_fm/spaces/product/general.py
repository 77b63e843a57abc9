"""The general product of spaces: any parts, continuous or discrete (e.g. SE(3)^N x tokens).

Co-generation (frames with their sequence, a point with its label)
needs one :class:`Space` whose training pair, loss and sampling step act per component.
A :class:`GeneralProduct` is a plain :class:`Space`: it has no manifold methods, because
its parts need not have them. When every part is a :class:`ManifoldSpace` the factory
:func:`manifold_fm.spaces.product.ProductSpace` builds the :class:`ManifoldProduct`
subclass instead. Layout and mask conventions are described in
:mod:`manifold_fm.spaces.product`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from manifold_fm.errors import check_shape_suffix
from manifold_fm.spaces.base import PathSample, Space, time_like
from manifold_fm.spaces.product.mask import MaskLike, pack_mask, split_mask
from manifold_fm.spaces.rotational import RotationalSpace

__all__ = ["GeneralProduct"]


def _numel(shape: torch.Size) -> int:
    return math.prod(shape)


class GeneralProduct(Space):
    """Product ``a x b x ...`` of arbitrary spaces sharing one batch of times.

    Everything is a sum over components (log_prior, loss) or acts per component (path,
    step, guidance, validation). Declared abilities come from the parts: ``mask_ndim`` is 1
    when some part takes a mask (the packed mask of :mod:`manifold_fm.spaces.product`), and
    the product is a :class:`~manifold_fm.spaces.rotational.RotationalSpace` (has
    ``scale_rotation``) when some part is.

    Args:
        *spaces: the component spaces (at least two).
        weights: optional non-negative per-component loss weights (default all 1).
    """

    def __init__(self, *spaces: Space, weights: list[float] | None = None) -> None:
        super().__init__()
        check_parts(spaces, weights)
        self.spaces = tuple(spaces)
        self.weights = [1.0] * len(spaces) if weights is None else [float(v) for v in weights]
        self._x_sizes = [_numel(s.event_shape) for s in spaces]
        self._v_sizes = [_numel(s.output_shape) for s in spaces]
        self.event_shape = torch.Size((sum(self._x_sizes),))
        if any(isinstance(s, RotationalSpace) for s in spaces):
            # rotational exactly when a part is: the protocol sees the instance attribute
            self.scale_rotation = self._scale_rotation_parts
        #: per component: numel of one point's mask (0 for parts that take no mask)
        self.mask_sizes = tuple(
            _numel(s.event_shape[: s.mask_ndim]) * (s.mask_ndim > 0) for s in spaces
        )
        self.mask_ndim = 1 if any(self.mask_sizes) else 0

    # -- layout -------------------------------------------------------------------------
    @property
    def output_shape(self) -> torch.Size:
        """Joint model output: each part's output flattened and concatenated."""
        return torch.Size((sum(self._v_sizes),))

    def split(self, x: Tensor) -> list[Tensor]:
        """Component points, each ``batch_shape + event_shape_i``; integer parts as long."""
        parts = torch.split(x, self._x_sizes, dim=-1)
        out = []
        for s, p in zip(self.spaces, parts):
            p = p.reshape(*p.shape[:-1], *s.event_shape)
            out.append(p.round().long() if s.integer_points else p)
        return out

    def split_tangent(self, v: Tensor) -> list[Tensor]:
        """Component outputs / tangent vectors, each shaped ``batch_shape + output_shape_i``."""
        parts = torch.split(v, self._v_sizes, dim=-1)
        return [p.reshape(*p.shape[:-1], *s.output_shape) for s, p in zip(self.spaces, parts)]

    @staticmethod
    def join(parts: list[Tensor], batch_ndim: int, dtype: torch.dtype | None = None) -> Tensor:
        """Concatenate component tensors flattened past ``batch_ndim`` along the last axis."""
        flat = [p.flatten(start_dim=batch_ndim) for p in parts]
        dtype = dtype or next((f.dtype for f in flat if f.is_floating_point()), torch.float32)
        return torch.cat([f.to(dtype) for f in flat], dim=-1)

    # -- masks --------------------------------------------------------------------------
    def split_mask(self, x: Tensor, mask: MaskLike) -> tuple[Tensor | None, ...]:
        """One validated bool mask (or None) per component, from any accepted mask form."""
        return split_mask(self, x, mask)

    def check_mask(self, x: Tensor, mask: MaskLike) -> Tensor | None:
        """Validate a mask in any accepted form; return it packed, ``batch + (M,)``, or None."""
        parts = self.split_mask(x, mask)
        return pack_mask(parts, self.batch_shape(x), self.mask_sizes, x.device)

    def _prior_masks(self, n: int, mask: MaskLike) -> tuple[Tensor | None, ...]:
        """The parts' masks of a prior draw of ``n`` points (validated; no points yet)."""
        if mask is None:
            return (None,) * len(self.spaces)
        found = mask if isinstance(mask, Tensor) else None
        if isinstance(mask, Mapping):
            found = next((m for m in mask.values() if isinstance(m, Tensor)), None)
        elif isinstance(mask, Sequence):
            found = next((m for m in mask if isinstance(m, Tensor)), None)
        device = None if found is None else found.device
        points = torch.zeros((), device=device).expand(n, *self.event_shape)  # shape only
        return self.split_mask(points, mask)

    def check_prior_mask(self, n: int, mask: MaskLike) -> Tensor | None:
        """:meth:`check_mask` for a prior draw of ``n`` points: packed ``(n, M)`` or None."""
        parts = self._prior_masks(n, mask)
        device = next((p.device for p in parts if p is not None), None)
        return pack_mask(parts, torch.Size((n,)), self.mask_sizes, device)

    # -- Space contract -------------------------------------------------------------------
    def sample_prior(
        self, n, *, generator=None, device=None, dtype=None, mask: MaskLike = None
    ) -> Tensor:
        """Each part's prior draw, joined: shape ``(n, sum_i numel(event_shape_i))``.

        ``mask`` in any accepted form; each masked part draws with its own mask.
        """
        kw = {"generator": generator, "device": device, "dtype": dtype}
        parts = [
            s.sample_prior(n, **kw, **_mask_kw(m))
            for s, m in zip(self.spaces, self._prior_masks(n, mask))
        ]
        return self.join(parts, 1, dtype)

    def log_prior(self, x: Tensor, *, mask: MaskLike = None) -> Tensor:
        """sum_i log p0_i(x_i), shape ``batch_shape``; masked parts get their own mask."""
        masks = self.split_mask(x, mask)
        return sum(
            s.log_prior(p, **_mask_kw(m)) for s, p, m in zip(self.spaces, self.split(x), masks)
        )

    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: MaskLike = None,
    ) -> PathSample:
        """Each part's own path at the shared times ``t``; ``generator`` reaches every part.

        ``x_t`` and ``target`` are the parts' tensors joined (targets of integer parts, the
        clean tokens, are stored as floats); the parts' samples ride in ``extras["parts"]``.
        """
        masks = self.split_mask(x1, mask)
        t = time_like(t, self.batch_shape(x1), x1)
        parts = []
        for s, a, b, m in zip(self.spaces, self.split(x0), self.split(x1), masks):
            parts.append(s.path(a, b, t, generator=generator, mask=m))
        nb = t.dim()
        return PathSample(
            x_t=self.join([p.x_t for p in parts], nb, x1.dtype),
            target=self.join([p.target for p in parts], nb, x1.dtype),
            t=t,
            x0=x0,
            x1=x1,
            mask=pack_mask(masks, self.batch_shape(x1), self.mask_sizes, x1.device),
            extras={"parts": parts},
        )

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """sum_i w_i loss_i(output_i, sample_i), shape ``batch_shape``."""
        outs = self.split_tangent(output)
        parts = sample.extras["parts"]
        return sum(w * s.loss(o, p) for s, w, o, p in zip(self.spaces, self.weights, outs, parts))

    def step(self, x, output, t, dt, *, mask: MaskLike = None, generator=None) -> Tensor:
        """Each part's own step from ``t`` to ``t + dt``; its mask keeps its padding fixed."""
        masks = self.split_mask(x, mask)
        parts = [
            s.step(a, o, t, dt, mask=m, generator=generator)
            for s, a, o, m in zip(self.spaces, self.split(x), self.split_tangent(output), masks)
        ]
        return self.join(parts, x.dim() - 1, x.dtype)

    def guide(self, cond_output: Tensor, uncond_output: Tensor, scale: float) -> Tensor:
        """Each part's own guidance rule on its slice of the outputs."""
        parts = [
            s.guide(c, u, scale)
            for s, c, u in zip(
                self.spaces, self.split_tangent(cond_output), self.split_tangent(uncond_output)
            )
        ]
        return self.join(parts, cond_output.dim() - 1, cond_output.dtype)

    def x1_estimate(self, x_t: Tensor, output: Tensor, t: Tensor | float) -> Tensor:
        """Each part's own clean-point estimate from its slice of the outputs, joined."""
        parts = [
            s.x1_estimate(a, o, t)
            for s, a, o in zip(self.spaces, self.split(x_t), self.split_tangent(output))
        ]
        return self.join(parts, x_t.dim() - 1, x_t.dtype)

    def x1_to_velocity(self, x_t: Tensor, x1_hat: Tensor, t: Tensor | float) -> Tensor:
        """Each part's u = r_i(t) log_{x_t}(x1_hat) with its own schedule, joined."""
        parts = [
            s.x1_to_velocity(a, b, t)
            for s, a, b in zip(self.spaces, self.split(x_t), self.split(x1_hat))
        ]
        return self.join(parts, x_t.dim() - 1, x_t.dtype)

    def x1_loss_scale(self, t: Tensor, x: Tensor) -> Tensor:
        """Refused: each part's loss would need its own factor (parts' schedules differ)."""
        raise TypeError(
            f"{type(self).__name__}: the x1 form of the loss is defined per space, not for "
            "products (their parts may follow different schedules); use loss_form='velocity'"
        )

    def _scale_rotation_parts(self, output: Tensor, factor: Tensor) -> Tensor:
        """``scale_rotation`` of a product with a rotational part (set in ``__init__``).

        Each :class:`~manifold_fm.spaces.rotational.RotationalSpace` part scales its slice of
        the outputs; the other parts' slices are kept.
        """
        parts = [
            s.scale_rotation(o, factor) if isinstance(s, RotationalSpace) else o
            for s, o in zip(self.spaces, self.split_tangent(output))
        ]
        return self.join(parts, output.dim() - 1, output.dtype)

    def validate(self, x: Tensor) -> None:
        """Shape, integer-valued slots of integer parts, then each part's own validation."""
        self._validate_parts(x, None)

    def validate_state(self, x: Tensor) -> None:
        """As :meth:`validate`, with each part's sampler-state check (e.g. a CTMC mask id)."""
        self._validate_parts(x, None, state=True)

    def _validate_parts(self, x: Tensor, atol: float | None, state: bool = False) -> None:
        name = type(self).__name__
        check_shape_suffix(x, self.event_shape, name)
        raw = torch.split(x, self._x_sizes, dim=-1)
        for i, (s, r, p) in enumerate(zip(self.spaces, raw, self.split(x))):
            where = f"{name} component {i} ({type(s).__name__})"
            if s.integer_points:
                bad = (r != r.round()).reshape(-1, r.shape[-1]).any(-1).nonzero()
                if bad.numel():
                    raise ValueError(f"{where}: row {int(bad[0, 0])} holds a non-integer id")
            try:
                if state:
                    s.validate_state(p)
                elif atol is None:
                    s.validate(p)
                else:
                    s.validate(p, atol=atol)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from err

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(repr(s) for s in self.spaces) + ")"


def _mask_kw(mask: Tensor | None) -> dict[str, Tensor]:
    """``mask=`` for a part only when it has one (parts without masks may not take it)."""
    return {} if mask is None else {"mask": mask}


def check_parts(spaces: tuple[Space, ...], weights: list[float] | None) -> None:
    """Raise TypeError / ValueError unless ``spaces`` are >= 2 Spaces with valid weights."""
    if len(spaces) < 2:
        raise ValueError(f"a product needs at least two spaces, got {len(spaces)}")
    for i, s in enumerate(spaces):
        if not isinstance(s, Space):
            raise TypeError(f"product component {i} must be a Space, got {type(s).__name__}")
    if weights is not None:
        w = list(weights)
        if len(w) != len(spaces) or any(not float(v) >= 0 for v in w):
            raise ValueError(
                f"product: need {len(spaces)} non-negative weights, got {list(weights)}"
            )
