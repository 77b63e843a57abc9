"""Items and loader outputs -> dict batches: the one batch format the Trainer reads.

A batch is a dict of tensors sharing their first dim, with ``"x1"`` (the points) and
optional ``"mask"`` and condition keys. :func:`as_batch_dict` accepts what loaders yield
(a tensor, a dict, or a TensorDataset tuple); :func:`collate_batch` stacks dataset items
into one such batch, padding variable-length items with valid points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["BATCH_KEYS", "as_batch_dict", "collate_batch"]

#: batch keys that are not model conditions: the points and the padding mask
BATCH_KEYS = ("x1", "mask")


def as_batch_dict(batch: Any, where: str) -> dict[str, Tensor]:
    """A new dict batch from a Tensor (``x1``), a dict with ``x1`` (shallow copy) or a
    tuple ``(x1,)`` / ``(x1, label)``; ``where`` names the source in errors."""
    if isinstance(batch, Tensor):
        return {"x1": batch}
    if isinstance(batch, Mapping):
        if "x1" not in batch:
            raise ValueError(f"{where}: batch dict needs an 'x1' key, got keys {sorted(batch)}")
        return dict(batch)
    tensors = isinstance(batch, (tuple, list)) and all(isinstance(b, Tensor) for b in batch)
    if tensors and len(batch) in (1, 2):  # (x,) or (x, label), as from a TensorDataset
        return {"x1": batch[0]} if len(batch) == 1 else {"x1": batch[0], "label": batch[1]}
    raise TypeError(
        f"{where}: batches must be a Tensor, a dict of tensors with 'x1', or a tuple "
        f"(x1,) / (x1, label) of tensors; got {type(batch).__name__}"
    )


def collate_batch(items: Sequence[Tensor | Mapping[str, Tensor]]) -> dict[str, Tensor]:
    """Stack items into a dict batch; pad variable-length ones and add a mask.

    Items are tensors (taken as ``x1``) or dicts with ``x1``. A key whose items differ in
    their first dimension (frames of N residues, sequences of L tokens) is padded to
    ``L = max length`` by repeating the item's first position (so padded entries stay
    valid points: rotations stay rotations, tokens stay in the vocabulary), and
    ``mask[i, j] = j < length_i`` (bool, shape ``(n, L)``) is added when ``x1`` varies.
    An explicit ``mask`` key in the items is padded with False instead.
    """
    if not items:
        raise ValueError("collate_batch: empty list of items")
    dicts = [as_batch_dict(it, f"collate_batch item {i}") for i, it in enumerate(items)]
    keys = list(dicts[0])
    for i, d in enumerate(dicts):
        if list(d) != keys:
            raise ValueError(f"collate_batch: item {i} has keys {list(d)}, item 0 has {keys}")
    out: dict[str, Tensor] = {}
    for key in keys:
        ts = [torch.as_tensor(d[key]) for d in dicts]
        if all(t.shape == ts[0].shape for t in ts):
            out[key] = torch.stack(ts)
            continue
        if any(t.dim() == 0 or t.shape[1:] != ts[0].shape[1:] for t in ts):
            raise ValueError(
                f"collate_batch: key {key!r} items may differ only in their first dim, got "
                f"shapes {[tuple(t.shape) for t in ts[:4]]}..."
            )
        lengths = torch.tensor([t.shape[0] for t in ts])
        width = int(lengths.max())
        padded = ts[0].new_empty((len(ts), width, *ts[0].shape[1:]))
        for i, t in enumerate(ts):  # one copy per item: collation, not a hot loop
            padded[i, : t.shape[0]] = t
            if t.shape[0] < width:
                fill = False if key == "mask" else t[:1]
                padded[i, t.shape[0] :] = fill
        out[key] = padded
        if key == "x1" and "mask" not in keys:
            out["mask"] = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
    return out
