"""Padding masks of a product space: one mask per maskable component, in three forms.

A product of a residue-masked SE(3)^N and a padded token sequence
must hand each part its own mask; the accepted forms and their validation live here so
both product classes (:mod:`manifold_fm.spaces.product.general`,
:mod:`manifold_fm.spaces.product.manifold`) read masks the same way. The forms are
documented in :mod:`manifold_fm.spaces.product`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from manifold_fm.errors import ManifoldFMError

if TYPE_CHECKING:
    from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["MaskLike", "ProductMaskError", "pack_mask", "split_mask"]

#: None, a packed bool tensor ``batch + (M,)``, a tuple with one entry per component
#: (None for "no mask"), or a dict ``{component index: mask}``
MaskLike = Tensor | Sequence[Tensor | None] | Mapping[int, Tensor] | None


class ProductMaskError(ManifoldFMError, ValueError):
    """A product mask has the wrong form, targets a part without masks, or a wrong shape."""


def split_mask(space: GeneralProduct, x: Tensor, mask: MaskLike) -> tuple[Tensor | None, ...]:
    """Per-component bool masks (None where a part gets none), each checked by its part.

    ``x`` has shape ``batch + event_shape`` of the product. Raises :class:`ProductMaskError`
    naming the component and the offending key, length or shape.
    """
    k = len(space.spaces)
    name = type(space).__name__
    if mask is None:
        return (None,) * k
    if isinstance(mask, Tensor):
        parts = _unpack(space, x, mask)
    elif isinstance(mask, Mapping):
        for key in mask:
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < k:
                raise ProductMaskError(
                    f"{name}: mask dict keys must be component indices 0..{k - 1}, got {key!r}"
                )
        parts = [mask.get(i) for i in range(k)]
    elif isinstance(mask, Sequence) and not isinstance(mask, str):
        if len(mask) != k:
            raise ProductMaskError(
                f"{name}: a mask tuple needs one entry per component ({k}), got {len(mask)}"
            )
        parts = list(mask)
    else:
        raise ProductMaskError(
            f"{name}: mask must be None, a bool tensor, a tuple or a dict, "
            f"got {type(mask).__name__}"
        )
    out: list[Tensor | None] = []
    for i, (s, p, m) in enumerate(zip(space.spaces, space.split(x), parts)):
        if m is None:
            out.append(None)
            continue
        if s.mask_ndim == 0:
            raise ProductMaskError(
                f"{name}: component {i} ({type(s).__name__}) takes no mask, got one of shape "
                f"{tuple(torch.as_tensor(m).shape)}"
            )
        if not isinstance(m, Tensor):
            raise ProductMaskError(
                f"{name}: mask of component {i} must be a Tensor, got {type(m).__name__}"
            )
        try:
            out.append(s.check_mask(p, m))
        except ValueError as err:
            raise ProductMaskError(f"{name} component {i}: {err}") from err
    return tuple(out)


def _unpack(space: GeneralProduct, x: Tensor, mask: Tensor) -> list[Tensor | None]:
    """Cut a packed mask ``batch + (M,)`` into the parts' masks (module docstring)."""
    name = type(space).__name__
    batch = space.batch_shape(x)
    total = sum(space.mask_sizes)
    if total == 0:
        raise ProductMaskError(f"{name}: no component takes a mask; pass mask=None")
    if tuple(mask.shape) != (*batch, total):
        raise ProductMaskError(
            f"{name}: a packed mask must have shape {(*batch, total)} (batch + the "
            f"components' mask sizes {list(space.mask_sizes)} summed), got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise ProductMaskError(f"{name}: a packed mask must be bool, got dtype {mask.dtype}")
    cuts = torch.split(mask, [m for m in space.mask_sizes if m], dim=-1)
    out: list[Tensor | None] = []
    it = iter(cuts)
    for s, size in zip(space.spaces, space.mask_sizes):
        if size == 0:
            out.append(None)
            continue
        out.append(next(it).reshape(*batch, *s.event_shape[: s.mask_ndim]))
    return out


def pack_mask(
    parts: Sequence[Tensor | None],
    batch: torch.Size,
    sizes: Sequence[int],
    device: torch.device,
) -> Tensor | None:
    """Packed bool mask ``batch + (sum sizes,)``; parts without a mask count as all real.

    None when no part has a mask.
    """
    if all(p is None for p in parts):
        return None
    flat = [
        (
            p.reshape(*batch, math.prod(p.shape[len(batch) :]))
            if p is not None
            else torch.ones((*batch, size), dtype=torch.bool, device=device)
        )
        for p, size in zip(parts, sizes)
        if size
    ]
    return torch.cat(flat, dim=-1)
