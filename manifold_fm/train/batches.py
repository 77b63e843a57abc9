"""Training data in any form -> an endless stream of dict batches on the training device.

Accepted data:

* a Tensor ``(n, *event_shape)`` or a dict of tensors sharing the first dim (``"x1"``
  required; other keys are conditions such as ``"label"``): kept on the device, each
  batch is ``batch_size`` rows drawn uniformly with replacement by a device generator
  (no host work, exact resume from the generator state);
* a ``torch.utils.data.Dataset`` whose items are tensors or dicts: wrapped in a DataLoader
  with :class:`EpochSampler` (seeded per epoch, sharded per rank, resumable mid-epoch) and
  :func:`~manifold_fm.train.collate.collate_batch` (pads variable-length items and adds
  ``"mask"``);
* a ``DataLoader`` yielding tensors, dicts, or ``(x1,)`` / ``(x1, label)`` tuples (as
  from a ``TensorDataset``): iterated as is, epoch after epoch
  (``sampler.set_epoch`` is called when present); a resume skips the batches already
  consumed in the current epoch, so it is exact when the loader's order depends only on
  the epoch (as with DistributedSampler or EpochSampler).

Floating-point tensors are cast to the model's dtype; integer tensors (tokens, labels)
keep theirs. A ``check(batch, where)`` callable given to :func:`make_batches` sees the
data as the caller gave it, before any cast or move: tensor data once, whole, at
construction; loader data batch by batch (``check_batch``), on the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from manifold_fm.train.collate import as_batch_dict, collate_batch

__all__ = [
    "BatchCheck",
    "BatchStream",
    "EpochSampler",
    "LoaderBatches",
    "TensorBatches",
    "collate_batch",
    "make_batches",
]


#: ``check(batch, where)``: raise if the dict batch is not valid training data
BatchCheck = Callable[[Mapping[str, Tensor], str], None]


def _to(t: Tensor, device: torch.device, float_dtype: torch.dtype) -> Tensor:
    if t.is_floating_point():
        return t.to(device=device, dtype=float_dtype, non_blocking=True)
    return t.to(device=device, non_blocking=True)


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
    ``check`` runs once over all rows, before they are moved.
    """

    def __init__(
        self,
        data: Mapping[str, Tensor],
        batch_size: int,
        device: torch.device,
        float_dtype: torch.dtype,
        seed: int,
        check: BatchCheck | None = None,
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
        if check is not None:
            check(data, "training data")
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
    """Batches from a DataLoader, epoch after epoch, moved to the device.

    ``check`` sees each batch on the host before the move, with ``where`` naming
    ``source``, the batch's index in its epoch and the epoch.
    """

    def __init__(
        self,
        loader: DataLoader,
        device: torch.device,
        float_dtype: torch.dtype,
        check: BatchCheck | None = None,
        source: str = "DataLoader",
    ) -> None:
        self.loader, self.device, self.float_dtype = loader, device, float_dtype
        self.check, self.source = check, source
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
        batch = as_batch_dict(batch, self.source)
        if self.check is not None:
            self.check(batch, f"{self.source} batch {self.consumed} of epoch {self.epoch}")
        self.consumed += 1
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
    check: BatchCheck | None = None,
    check_batch: BatchCheck | None = None,
) -> BatchStream:
    """Pick the right :class:`BatchStream` for ``data`` (see the module docstring).

    ``check`` validates tensor data once; ``check_batch`` each Dataset/DataLoader batch.
    """
    if isinstance(data, Tensor):
        return TensorBatches({"x1": data}, batch_size, device, float_dtype, seed, check)
    if isinstance(data, Mapping):
        d = as_batch_dict(data, "data")
        for k, v in d.items():
            if not isinstance(v, Tensor):
                raise TypeError(f"data[{k!r}] must be a Tensor, got {type(v).__name__}")
        return TensorBatches(d, batch_size, device, float_dtype, seed, check)
    if isinstance(data, DataLoader):
        return LoaderBatches(data, device, float_dtype, check_batch)
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
        return LoaderBatches(loader, device, float_dtype, check_batch, "Dataset")
    raise TypeError(
        "data must be a Tensor, a dict of tensors, a torch Dataset or a DataLoader, "
        f"got {type(data).__name__}"
    )
