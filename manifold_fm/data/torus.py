"""Torsion-angle data on flat tori: RNA backbones (T^7) and protein phi/psi (T^2).

``$MFM_DATA/torus/rna.tsv`` (from ``vislearn/FFF``): tab separated, no header,
``pdb_id, base, alpha, beta, gamma, delta, epsilon, zeta, chi`` in degrees.
``$MFM_DATA/torus/protein.tsv`` (same source; often absent): ``name, phi, psi, type`` with
type in {General, Glycine, Proline, Pre-Pro}. Angles map to [0, 2 pi) as in RFM:
``(deg mod 360) * pi / 180``.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

from manifold_fm.data.files import DataFile, require_file

__all__ = [
    "PROTEIN_FILE",
    "PROTEIN_KINDS",
    "RNA_FILE",
    "degrees_to_torus",
    "load_protein",
    "load_rna",
]

_FFF = (
    "https://raw.githubusercontent.com/vislearn/FFF/"
    "02db8ec7e1a8cf87bd311893e1a24f4b0eb646d8/fff/data/raw_data/torus/"
)

RNA_FILE = DataFile(
    "torus/rna.tsv",
    _FFF + "rna.tsv",
    "189183ca25bd45c8a7578d3c1cd8a555b5139bb1ab0ac1a0bd25672be19badf7",
    "RNA backbone torsions, 9478 rows x 7 angles (RDM / RFM benchmark)",
)
PROTEIN_FILE = DataFile(
    "torus/protein.tsv",
    _FFF + "protein.tsv",
    None,
    "top500 protein phi/psi, 166035 rows (General/Glycine/Proline/Pre-Pro), 8 MB",
)
PROTEIN_KINDS = ("General", "Glycine", "Proline", "Pre-Pro")


def degrees_to_torus(deg: Tensor) -> Tensor:
    """Degrees in [-180, 180] -> angles in [0, 2 pi): (deg mod 360) * pi / 180."""
    ang = torch.remainder(deg, 360.0) * (math.pi / 180)
    return torch.where(ang >= 2 * math.pi, ang - 2 * math.pi, ang)


def _read_table(path, ncols: int) -> list[list[str]]:
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != ncols:
            raise ValueError(f"{path}: line {lineno} has {len(fields)} fields, expected {ncols}")
        rows.append(fields)
    return rows


def _angles(rows: list[list[str]], cols: slice, path) -> Tensor:
    try:
        vals = [[float(v) for v in r[cols]] for r in rows]
    except ValueError as err:
        raise ValueError(f"{path}: non-numeric angle ({err})") from err
    return torch.tensor(vals, dtype=torch.float64)


def load_rna(root: str | os.PathLike | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
    """RNA torsions as points of T^7 in [0, 2 pi), shape ``(9478, 7)``."""
    path = require_file(RNA_FILE, root)
    deg = _angles(_read_table(path, 9), slice(2, 9), path)
    return degrees_to_torus(deg).to(dtype)


def load_protein(
    kind: str = "General",
    root: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """(phi, psi) of one residue type as points of T^2, shape ``(n, 2)``.

    Raises FileNotFoundError naming ``torus/protein.tsv`` and its source when it is absent.
    """
    if kind not in PROTEIN_KINDS:
        raise ValueError(f"unknown protein kind {kind!r}; choose from {list(PROTEIN_KINDS)}")
    path = require_file(PROTEIN_FILE, root)
    rows = [r for r in _read_table(path, 4) if r[3].strip() == kind]
    if not rows:
        raise ValueError(f"{path}: no rows of type {kind!r}")
    return degrees_to_torus(_angles(rows, slice(1, 3), path)).to(dtype)
