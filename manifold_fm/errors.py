"""Typed, specific input checks shared by every space and loader.

Each check raises ``ValueError`` naming what is wrong, where (the first offending row) and
the offending value, so a user can find the bad input without a debugger. The error
types below are ``ValueError`` subclasses, so a caller can catch either.

:class:`ManifoldFMError` is the base of every error class the library defines.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "DataValidationError",
    "ManifoldFMError",
    "ResumeMismatchError",
    "check_finite",
    "check_shape_suffix",
    "first_bad_row",
]


def first_bad_row(bad: Tensor) -> int | None:
    """Index of the first True entry of a flat boolean tensor, or None."""
    idx = bad.reshape(-1).nonzero()
    return int(idx[0, 0]) if idx.numel() else None


def check_shape_suffix(x: Tensor, event_shape: torch.Size, name: str) -> None:
    """Raise ValueError unless ``x.shape`` ends with ``event_shape``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    k = len(event_shape)
    if x.dim() < k or tuple(x.shape[x.dim() - k :]) != tuple(event_shape):
        raise ValueError(
            f"{name}: points must have trailing shape {tuple(event_shape)}, "
            f"got tensor of shape {tuple(x.shape)}"
        )


def check_finite(x: Tensor, event_ndim: int, name: str) -> None:
    """Raise ValueError naming the first row of ``x`` that holds a NaN or inf."""
    if not x.is_floating_point():
        return
    rows = x.reshape(-1, *x.shape[x.dim() - event_ndim :]) if event_ndim else x.reshape(-1, 1)
    bad = ~torch.isfinite(rows.flatten(start_dim=1)).all(dim=1)
    i = first_bad_row(bad)
    if i is not None:
        kind = "NaN" if torch.isnan(rows[i]).any() else "inf"
        raise ValueError(f"{name}: row {i} contains {kind} ({int(bad.sum())} bad rows)")


class ManifoldFMError(Exception):
    """The base of every error the library raises on purpose; catch it to catch them all.

    Each subclass also derives from the builtin it derived from before (``ValueError``,
    ``TypeError``, ``RuntimeError``, ``ImportError``), so ``except ValueError`` and the
    like keep working.
    """


class RunFolderExistsError(ManifoldFMError, FileExistsError):
    """A run would start in a folder that holds another run's checkpoint.

    Raised before any work: the folder's checkpoint and metrics are left as they are. The
    message names the folder and both ways out (``resume = true`` to continue that run,
    ``overwrite = true`` or another ``out_dir`` to start a new one).
    """


class DataValidationError(ManifoldFMError, ValueError):
    """Training data that the space rejects (off the manifold, NaN, wrong shape, bad ids).

    The message names where the data came from (``data['x1']`` or the DataLoader batch and
    step) and the space's own reason, which names the first offending row.
    """


class ResumeMismatchError(ManifoldFMError, ValueError):
    """A resume whose run differs from the one that wrote the checkpoint.

    ``keys`` lists the dotted keys that differ (``train.lr``, ``space``, ``data.x1``, ...).
    """

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = list(keys)
