"""Sampled points of a protein space -> one PDB file per sample (frames and sequence).

``mfm sample --pdb-dir`` and scripts hold samples of either
``SE3(N)`` (frames ``(n, N, 3, 4)``; residues written as glycine) or the co-generation
product ``SE3(N) x CTMCSpace(20, N)`` (joined points; the sampled amino acids are written
as residue names). This turns both into files with
:func:`~manifold_fm.proteins.pdb.write_pdb`.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from manifold_fm.proteins.dataset import AMINO_ACIDS
from manifold_fm.proteins.pdb import write_pdb
from manifold_fm.spaces.base import Space
from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["sample_backbones", "write_sample_pdbs"]


def sample_backbones(space: Space, x: Tensor) -> tuple[Tensor, list[str] | None]:
    """``(frames (n, N, 3, 4), sequences or None)`` of samples ``x`` of ``space``.

    Sequences: one-letter codes of token ids 0..19 (anything else, such as a still-masked
    id, is written 'X'). TypeError when the space holds no frames.
    """
    parts = space.split(x) if isinstance(space, GeneralProduct) else [x]
    frames = parts[0]
    if frames.dim() != 4 or frames.shape[-2:] != (3, 4):
        raise TypeError(f"samples of {space!r} hold no SE(3)^N frames (n, N, 3, 4)")
    if len(parts) == 1:
        return frames, None
    tokens = parts[1]
    if tuple(tokens.shape) != tuple(frames.shape[:2]):
        raise TypeError(f"{space!r}: the second part is not one token per frame")
    seqs = ["".join(AMINO_ACIDS[i] if 0 <= i < 20 else "X" for i in row) for row in tokens.tolist()]
    return frames, seqs


def write_sample_pdbs(
    space: Space, x: Tensor, folder: str | os.PathLike, prefix: str = "sample"
) -> list[Path]:
    """Write ``folder/<prefix>_<i>.pdb`` for every sample of ``x``; return the paths."""
    frames, seqs = sample_backbones(space, x)
    folder = Path(folder)
    return [
        write_pdb(frames[i], folder / f"{prefix}_{i:03d}.pdb", None if seqs is None else seqs[i])
        for i in range(frames.shape[0])
    ]
