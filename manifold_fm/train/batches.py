"""Training data in any form -> an endless stream of dict batches on the training device.

Accepted data:

* a Tensor ``(n, *event_shape)`` or a dict of tensors sharing the first dim (``"x1"``
  required; other keys are conditions such as ``"label"``): kept on the device, each
  batch is ``batch_size`` rows drawn uniformly with replacement by a device generator
  (no host work, exact resume from the generator state);
* a ``torch.utils.data.Dataset`` whose items are tensors or dicts: wrapped in a DataLoader
  with :class:`EpochSampler` (seeded per epoch, sharded per rank, resumable mid-epoch) and
  :func:`collate_batch` (pads variable-length items and adds ``"mask"``);
* a ``DataLoader`` yielding tensors, dicts, or ``(x1,)`` / ``(x1, label)`` tuples (as
  from a ``TensorDataset``): iterated as is, epoch after epoch
  (``sampler.set_epoch`` is called when present); a resume skips the batches already
  consumed in the current epoch, so it is exact when the loader's order depends only on
  the epoch (as with DistributedSampler or EpochSampler).

Floating-point tensors are cast to the model's dtype; integer tensors (tokens, labels)
keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = [
    "BatchStream",
    "EpochSampler",
    "LoaderBatches",
    "TensorBatches",
    "collate_batch",
    "make_batches",
]


def _as_dict(batch: Any, where: str) -> dict[str, Tensor]:
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


def _to(t: Tensor, device: torch.device, float_dtype: torch.dtype) -> Tensor:
    if t.is_floating_point():
        return t.to(device=device, dtype=float_dtype, non_blocking=True)
    return t.to(device=device, non_blocking=True)


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
    dicts = [_as_dict(it, f"collate_batch item {i}") for i, it in enumerate(items)]
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


class BatchStream:
    """Endless source of dict batches; resumable through ``state_dict``."""

    def next(self) -> dict[str, Tensor]:
        """The next batch, on the training device."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Position in the stream (tensors and plain values only)."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`."""
        raise NotImplementedError


class TensorBatches(BatchStream):
    """Uniform row draws (with replacement) from device-resident tensors.

    idx ~ U{0..n-1}^batch_size from a generator on ``device``; batch = {k: v[idx]}.
    """

    def __init__(
        self,
        data: Mapping[str, Tensor],
        batch_size: int,
        device: torch.device,
        float_dtype: torch.dtype,
        seed: int,
    ) -> None:
        sizes = {k: v.shape[0] for k, v in data.items()}
        n = sizes["x1"]
        bad = [k for k, s in sizes.items() if s != n]
        if bad:
            raise ValueError(
                f"data tensors must share their first dim {n}; {bad[0]!r} has {sizes[bad[0]]}"
            )
        if n == 0:
            raise ValueError("data has no rows (x1 has first dim 0)")
        self.data = {k: _to(v, device, float_dtype) for k, v in data.items()}
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def next(self) -> dict[str, Tensor]:
        idx = torch.randint(
            self.n, (self.batch_size,), generator=self.generator, device=self.device
        )
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class EpochSampler(Sampler[int]):
    """Per-epoch permutation, sharded by rank, that can start mid-epoch.

    perm_e = randperm(n) seeded by (seed, epoch); rank r takes perm_e[r::world] truncated
    to ``n // world`` indices, from position ``start`` on.
    """

    def __init__(self, n: int, rank: int = 0, world: int = 1, seed: int = 0) -> None:
        self.n, self.rank, self.world, self.seed = n, rank, world, seed
        self.epoch, self.start = 0, 0

    def _indices(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        perm = torch.randperm(self.n, generator=g)
        return perm[self.rank :: self.world][: self.n // self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start :].tolist())

    def __len__(self) -> int:
        return max(self.n // self.world - self.start, 0)


class LoaderBatches(BatchStream):
    """Batches from a DataLoader, epoch after epoch, moved to the device."""

    def __init__(self, loader: DataLoader, device: torch.device, float_dtype: torch.dtype) -> None:
        self.loader, self.device, self.float_dtype = loader, device, float_dtype
        self.epoch, self.consumed = 0, 0
        self._it: Iterator | None = None

    def _start_epoch(self) -> None:
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, EpochSampler):
            sampler.epoch = self.epoch
            sampler.start = self.consumed * (self.loader.batch_size or 1)
            skip = 0
        else:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(self.epoch)
            skip = self.consumed
        self._it = iter(self.loader)
        for _ in range(skip):
            next(self._it)

    def next(self) -> dict[str, Tensor]:
        for _attempt in range(2):
            if self._it is None:
                self._start_epoch()
            try:
                batch = next(self._it)
                break
            except StopIteration:
                self._it = None
                if self.consumed == 0:
                    raise ValueError(
                        "the DataLoader yields no batches (dataset smaller than one batch "
                        "with drop_last=True?)"
                    ) from None
                self.epoch, self.consumed = self.epoch + 1, 0
        self.consumed += 1
        batch = _as_dict(batch, "DataLoader")
        return {k: _to(v, self.device, self.float_dtype) for k, v in batch.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "consumed": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])
        self._it = None


def make_batches(
    data: Tensor | Mapping[str, Tensor] | Dataset | DataLoader,
    *,
    batch_size: int,
    device: torch.device,
    float_dtype: torch.dtype,
    seed: int,
    rank: int = 0,
    world: int = 1,
    num_workers: int = 0,
) -> BatchStream:
    """Pick the right :class:`BatchStream` for ``data`` (see the module docstring)."""
    if isinstance(data, Tensor):
        return TensorBatches({"x1": data}, batch_size, device, float_dtype, seed)
    if isinstance(data, Mapping):
        d = _as_dict(data, "data")
        for k, v in d.items():
            if not isinstance(v, Tensor):
                raise TypeError(f"data[{k!r}] must be a Tensor, got {type(v).__name__}")
        return TensorBatches(d, batch_size, device, float_dtype, seed)
    if isinstance(data, DataLoader):
        return LoaderBatches(data, device, float_dtype)
    if isinstance(data, Dataset):
        n = len(data)  # type: ignore[arg-type]
        if n // world < batch_size:
            raise ValueError(
                f"dataset of {n} items has fewer than batch_size={batch_size} per rank "
                f"({world} ranks)"
            )
        loader = DataLoader(
            data,
            batch_size=batch_size,
            sampler=EpochSampler(n, rank, world, seed),
            collate_fn=collate_batch,
            drop_last=True,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
        )
        return LoaderBatches(loader, device, float_dtype)
    raise TypeError(
        "data must be a Tensor, a dict of tensors, a torch Dataset or a DataLoader, "
        f"got {type(data).__name__}"
    )
