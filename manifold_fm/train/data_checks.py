"""Training data checked against its space before any step learns from it.

Off-manifold points, NaN rows, wrong trailing shapes and token ids outside the vocabulary
train silently (or fail deep inside a kernel, a device assert on CUDA); here they become
one :class:`~manifold_fm.errors.DataValidationError` that says where the data came from
and, through the space's own ``validate``, which row is bad and why.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from manifold_fm.errors import DataValidationError, check_finite
from manifold_fm.spaces.base import Space
from manifold_fm.train.collate import BATCH_KEYS

__all__ = ["check_batch"]


def check_batch(space: Space, batch: Mapping[str, Tensor], where: str) -> None:
    """Raise DataValidationError unless ``batch`` is valid training data for ``space``.

    ``space.validate(batch["x1"])`` checks the points (shape ``(n, *event_shape)``; padded
    positions must hold valid points too, as :func:`~manifold_fm.train.collate_batch`
    makes them); floating-point conditions must be finite row by row. ``where`` names the
    source in the message (``"data"``, ``"DataLoader batch 3 of epoch 0, step 4"``).
    """
    try:
        space.validate(batch["x1"])
    except (ValueError, TypeError) as err:
        raise DataValidationError(f"{where}, key 'x1': {err}") from err
    for key, value in batch.items():
        if key in BATCH_KEYS or not isinstance(value, Tensor) or value.dim() == 0:
            continue
        try:
            check_finite(value, value.dim() - 1, f"condition {key!r}")
        except ValueError as err:
            raise DataValidationError(f"{where}, key {key!r}: {err}") from err
