"""Protein backbones: structure files in, SE(3)^N training batches out, PDB files back.

The public face of the protein data pipeline; the parts live in small modules:

* :mod:`.proteins_parse` -- PDB/mmCIF (gzipped or not) through gemmi, backbone chains,
  the :class:`DropReport` of what was left out and why, :class:`ProteinParseError`;
* :mod:`.proteins_cache` -- :func:`load_proteins`, the cached :class:`ProteinSet`;
* :mod:`.proteins_frames` -- Gram-Schmidt frames and ideal backbone atoms;
* :mod:`.proteins_dataset` -- random crops, length buckets, masks, :func:`protein_loader`;
* :mod:`.proteins_pdb` -- :func:`write_pdb`.

Units: Angstrom everywhere (files, cache, frames, batches); translations are not scaled.
The shipped set is ``$MFM_DATA/proteins/pdb`` (190 chains; see its README).
"""

from __future__ import annotations

import os
from pathlib import Path

from manifold_fm.data.files import data_root
from manifold_fm.data.proteins_cache import (
    STRUCTURE_SUFFIXES,
    ProteinSet,
    find_structure_files,
    load_proteins,
)
from manifold_fm.data.proteins_dataset import (
    AMINO_ACIDS,
    BucketBatchSampler,
    ProteinCrops,
    protein_loader,
)
from manifold_fm.data.proteins_frames import (
    IDEAL_LOCAL,
    IDEAL_O_LOCAL,
    backbone_frames,
    ideal_backbone,
)
from manifold_fm.data.proteins_parse import (
    BACKBONE_ATOMS,
    BackboneChain,
    DropRecord,
    DropReport,
    ProteinParseError,
    parse_structure_file,
)
from manifold_fm.data.proteins_pdb import write_pdb

__all__ = [
    "AMINO_ACIDS",
    "BACKBONE_ATOMS",
    "IDEAL_LOCAL",
    "IDEAL_O_LOCAL",
    "STRUCTURE_SUFFIXES",
    "BackboneChain",
    "BucketBatchSampler",
    "DropRecord",
    "DropReport",
    "ProteinCrops",
    "ProteinParseError",
    "ProteinSet",
    "backbone_frames",
    "find_structure_files",
    "ideal_backbone",
    "load_proteins",
    "parse_structure_file",
    "protein_loader",
    "shipped_proteins_dir",
    "write_pdb",
]


def shipped_proteins_dir(root: str | os.PathLike | None = None) -> Path:
    """``<data root>/proteins/pdb`` (root: argument, else ``$MFM_DATA``); raise if absent."""
    path = data_root(root) / "proteins" / "pdb"
    if not path.is_dir():
        raise FileNotFoundError(
            f"shipped protein set {str(path)!r} not found: it holds the 190 gzipped PDB "
            "chains described in proteins/README.md of the shared data folder"
        )
    return path
