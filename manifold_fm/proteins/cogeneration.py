"""Backbone windows with their sequences as points of ``ProductSpace(SE3(N), CTMCSpace(20, N))``.

Sequence-structure co-generation trains the one Trainer on a
product space, whose batches are ``{"x1": (B, N*12 + N), "mask": (B, 2N)}``: the frames
and the amino-acid ids flattened and joined
(:meth:`~manifold_fm.spaces.product.general.GeneralProduct.join`), and the packed mask
(frames' mask, then the tokens' mask). Windows, crops and buckets are those of
:mod:`manifold_fm.proteins.dataset`.

Unknown residues (X) are real frames but carry no sequence target: their token slot holds
id 0 and is masked out of the tokens' mask (and so out of the sequence loss); padding is
masked in both parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from manifold_fm.proteins.cache import ProteinSet
from manifold_fm.proteins.dataset import ProteinCrops, bucket_sampler
from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["CoGenerationCrops", "cogeneration_loader"]


class CoGenerationCrops(Dataset):
    """:class:`ProteinCrops` windows as joined (frames, amino acids) product points."""

    def __init__(self, proteins: ProteinSet, n_frames: int) -> None:
        self.crops = ProteinCrops(proteins, n_frames, with_sequence=True)

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, plan: Sequence[tuple[int, int, int]]) -> dict[str, Tensor]:
        batch = self.crops[plan]
        aa, mask = batch["aatype"], batch["mask"]
        known = mask & (aa < 20)
        tokens = torch.where(known, aa, torch.zeros_like(aa))
        x1 = GeneralProduct.join([batch["x1"], tokens], 1, torch.float32)
        return {"x1": x1, "mask": torch.cat([mask, known], -1)}


def cogeneration_loader(
    proteins: ProteinSet,
    *,
    n_frames: int,
    batch_size: int,
    crop_length: int | None = None,
    bucket_width: int = 16,
    seed: int = 0,
    drop_last: bool = True,
) -> DataLoader:
    """A DataLoader of joined ``{"x1", "mask"}`` batches (arguments as ``protein_loader``)."""
    sampler = bucket_sampler(
        "cogeneration_loader",
        proteins,
        n_frames,
        batch_size,
        crop_length,
        bucket_width,
        seed,
        drop_last,
    )
    return DataLoader(CoGenerationCrops(proteins, n_frames), sampler=sampler, batch_size=None)
