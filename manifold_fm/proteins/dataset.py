"""Backbone chains -> padded, masked, length-bucketed SE(3)^N batches for the Trainer.

The Trainer takes a DataLoader of dict batches
``{"x1": (B, N, 3, 4), "mask": (B, N)}`` for ``SE3(n_frames=N)``; this is where chains
become such batches, with the standard augmentation of random contiguous crops (each epoch
draws new windows, so 190 chains give tens of thousands of distinct training windows).

* :class:`ProteinCrops` is a map-style dataset indexed by *plans*: a list of
  ``(chain, start, length)`` windows; ``dataset[plan]`` is one batch padded to
  ``n_frames`` (padding frames are the identity at the origin, a valid point; mask False).
* :class:`BucketBatchSampler` draws the plans: per epoch, each chain gives one window of
  ``min(L, crop_length)`` residues at a uniform random start, windows are grouped into
  length buckets of width ``bucket_width`` and cut into batches, all from a generator
  seeded by ``(seed, epoch)`` -- so a resumed run (which re-creates epoch e and skips the
  batches already seen) gets exactly the same windows. Pass the run's seed
  (``TrainConfig.seed``).
* :func:`protein_loader` puts them in a DataLoader (``sampler=`` the bucket sampler,
  ``batch_size=None``) whose ``sampler.set_epoch`` the Trainer calls every epoch.

Units: translations are CA positions in **Angstrom**, centred on the window's CA centroid,
**not scaled** (FrameFlow's x0.1 to nm happens inside the network); ``SE3(trans_scale=10)``
is then the recipe's N(0, (10 A)^2) translation prior. Rotations: Gram-Schmidt frames of
:mod:`manifold_fm.proteins.frames`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from manifold_fm.proteins.cache import ProteinSet
from manifold_fm.proteins.frames import backbone_frames

__all__ = ["AMINO_ACIDS", "BucketBatchSampler", "ProteinCrops", "bucket_sampler", "protein_loader"]

#: residue type ids 0..19 of the ``aatype`` key; anything else (X) is 20
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
Window = tuple[int, int, int]


class ProteinCrops(Dataset):
    """Windows of a :class:`ProteinSet` as SE(3) frame batches (module docstring).

    Args:
        proteins: the chains.
        n_frames: N of the ``SE3(n_frames=N)`` space; batches are padded to it.
        with_sequence: add ``"aatype"`` (int64 ``(B, N)``, 20 for unknown and padding);
            the model must then take that condition.
    """

    def __init__(self, proteins: ProteinSet, n_frames: int, with_sequence: bool = False):
        if not isinstance(n_frames, int) or n_frames < 1:
            raise ValueError(f"ProteinCrops: n_frames must be an int >= 1, got {n_frames!r}")
        self.proteins, self.n_frames, self.with_sequence = proteins, n_frames, with_sequence
        self.frames = backbone_frames(proteins.coords.to(torch.float64))  # (R, 3, 4)
        lut = torch.full((128,), 20, dtype=torch.int64)
        lut[torch.tensor([ord(a) for a in AMINO_ACIDS])] = torch.arange(20)
        self.aatype = lut[torch.tensor([ord(c) for c in "".join(proteins.sequences)])]

    def __len__(self) -> int:
        return len(self.proteins)

    def __getitem__(self, plan: Sequence[Window]) -> dict[str, Tensor]:
        """One batch for ``plan`` (a list of ``(chain, start, length)``)."""
        b, n = len(plan), self.n_frames
        x1 = torch.zeros((b, n, 3, 4), dtype=torch.float64)
        x1[..., :3] = torch.eye(3, dtype=torch.float64)
        mask = torch.zeros((b, n), dtype=torch.bool)
        aa = torch.full((b, n), 20, dtype=torch.int64)
        for i, (c, start, length) in enumerate(plan):  # one copy per window of the batch
            if not 0 < length <= n or start < 0 or start + length > int(self.proteins.lengths[c]):
                raise ValueError(
                    f"ProteinCrops: window (chain {c}, start {start}, length {length}) does "
                    f"not fit chain length {int(self.proteins.lengths[c])} / n_frames {n}"
                )
            lo = int(self.proteins.offsets[c]) + start
            win = self.frames[lo : lo + length].clone()
            win[:, :, 3] -= win[:, :, 3].mean(0)
            x1[i, :length], mask[i, :length] = win, True
            aa[i, :length] = self.aatype[lo : lo + length]
        out = {"x1": x1.to(torch.float32), "mask": mask}
        if self.with_sequence:
            out["aatype"] = aa
        return out


class BucketBatchSampler(Sampler[list[Window]]):
    """Per-epoch random windows grouped into length-bucketed batches (module docstring).

    Args:
        lengths: chain lengths ``(C,)``.
        batch_size: windows per batch (the last, smaller batch of a bucket is dropped
            unless ``drop_last=False``).
        crop_length: longest window (at most the space's ``n_frames``).
        bucket_width: windows whose lengths fall in the same ``length // bucket_width``
            bin share batches.
        seed: the run's seed; epoch e uses a generator seeded with ``(seed, e)``.
    """

    def __init__(
        self,
        lengths: Tensor,
        batch_size: int,
        crop_length: int,
        bucket_width: int = 16,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        for name, v in (("batch_size", batch_size), ("crop_length", crop_length)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"BucketBatchSampler: {name} must be an int >= 1, got {v!r}")
        if not isinstance(bucket_width, int) or bucket_width < 1:
            raise ValueError(f"BucketBatchSampler: bucket_width must be >= 1, got {bucket_width!r}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.int64)
        self.batch_size, self.crop_length = batch_size, crop_length
        self.bucket_width, self.seed, self.drop_last = bucket_width, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose windows :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def plans(self) -> list[list[Window]]:
        """All batches of the current epoch, each a list of ``(chain, start, length)``."""
        g = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
        win = self.lengths.clamp(max=self.crop_length)
        starts = torch.rand(len(win), generator=g, dtype=torch.float64) * (self.lengths - win + 1)
        starts = starts.floor().to(torch.int64)
        order = torch.randperm(len(win), generator=g)
        bucket = win[order] // self.bucket_width
        order = order[torch.sort(bucket, stable=True).indices]  # shuffled within a bucket
        batches: list[list[Window]] = []
        cur: list[Window] = []
        for c in order.tolist():
            if cur and int(win[c]) // self.bucket_width != int(win[cur[0][0]]) // self.bucket_width:
                if not self.drop_last:
                    batches.append(cur)
                cur = []
            cur.append((c, int(starts[c]), int(win[c])))
            if len(cur) == self.batch_size:
                batches.append(cur)
                cur = []
        if cur and not self.drop_last:
            batches.append(cur)
        perm = torch.randperm(len(batches), generator=g).tolist()
        return [batches[i] for i in perm]

    def __iter__(self) -> Iterator[list[Window]]:
        return iter(self.plans())

    def __len__(self) -> int:
        return len(self.plans())


def protein_loader(
    proteins: ProteinSet,
    *,
    n_frames: int,
    batch_size: int,
    crop_length: int | None = None,
    bucket_width: int = 16,
    seed: int = 0,
    with_sequence: bool = False,
    drop_last: bool = True,
) -> DataLoader:
    """A DataLoader of ``{"x1", "mask"[, "aatype"]}`` batches for ``SE3(n_frames)``.

    ``crop_length`` defaults to ``n_frames`` and must not exceed it. Raises ValueError
    when an epoch would yield no batch (too few chains for ``batch_size``).
    """
    sampler = bucket_sampler(
        "protein_loader",
        proteins,
        n_frames,
        batch_size,
        crop_length,
        bucket_width,
        seed,
        drop_last,
    )
    dataset = ProteinCrops(proteins, n_frames, with_sequence)
    return DataLoader(dataset, sampler=sampler, batch_size=None)


def bucket_sampler(
    caller: str,
    proteins: ProteinSet,
    n_frames: int,
    batch_size: int,
    crop_length: int | None,
    bucket_width: int,
    seed: int,
    drop_last: bool,
) -> BucketBatchSampler:
    """The length-bucketed window sampler of a protein loader, checked before any work:
    ``crop_length`` (default ``n_frames``) must not exceed ``n_frames``, and an epoch must
    yield at least one batch. ``caller`` names the loader in the errors."""
    crop_length = n_frames if crop_length is None else crop_length
    if crop_length > n_frames:
        raise ValueError(f"{caller}: crop_length {crop_length} > n_frames {n_frames}")
    sampler = BucketBatchSampler(
        proteins.lengths, batch_size, crop_length, bucket_width, seed, drop_last
    )
    if len(sampler) == 0:
        raise ValueError(
            f"{caller}: {len(proteins)} chains give no batch of {batch_size} in "
            f"buckets of width {bucket_width} (lower batch_size or widen the buckets)"
        )
    return sampler
