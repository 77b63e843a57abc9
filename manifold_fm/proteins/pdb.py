"""SE(3) frames -> a PDB file of N, CA, C, O backbone atoms that viewers open.

Samples are only useful when a person can look at them (PyMOL,
ChimeraX) and a metric tool can read them; this writes standard fixed-column ATOM records
(chain A, residues numbered 1.. over the real residues, element column, TER and END).

Atoms come from ideal geometry placed by each frame
(:func:`~manifold_fm.proteins.frames.ideal_backbone`): CA is the frame's translation
exactly (to the 3-decimal precision of the format), N and C at ideal local coordinates,
O in the peptide plane from the next residue's N (ideal psi = 180 deg placement for the
last residue). Coordinates are written in Angstrom as given.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from manifold_fm.proteins.frames import ideal_backbone

__all__ = ["THREE_LETTER", "write_pdb"]

#: one-letter -> three-letter residue names (unknown: UNK)
THREE_LETTER = dict(
    zip(
        "ACDEFGHIKLMNPQRSTVWY",
        [
            "ALA",
            "CYS",
            "ASP",
            "GLU",
            "PHE",
            "GLY",
            "HIS",
            "ILE",
            "LYS",
            "LEU",
            "MET",
            "ASN",
            "PRO",
            "GLN",
            "ARG",
            "SER",
            "THR",
            "VAL",
            "TRP",
            "TYR",
        ],
    )
)
_ATOMS = (("N", "N"), ("CA", "C"), ("C", "C"), ("O", "O"))


def write_pdb(
    frames: Tensor,
    path: str | os.PathLike,
    sequence: str | None = None,
    mask: Tensor | None = None,
) -> Path:
    """Write one backbone ``frames`` ``(N, 3, 4)`` (Angstrom) to ``path``; return the path.

    ``sequence``: N one-letter codes (default all glycine); ``mask`` ``(N,)`` bool: False
    residues (padding) are omitted and the kept ones numbered 1..n consecutively.
    """
    if not isinstance(frames, Tensor) or frames.dim() != 3 or frames.shape[1:] != (3, 4):
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"write_pdb: frames must be a tensor (N, 3, 4), got {shape}")
    n = frames.shape[0]
    if not bool(torch.isfinite(frames).all()):
        raise ValueError("write_pdb: frames contain NaN or inf")
    if sequence is not None and len(sequence) != n:
        raise ValueError(f"write_pdb: sequence has {len(sequence)} letters for {n} frames")
    if mask is not None and tuple(mask.shape) != (n,):
        raise ValueError(f"write_pdb: mask must have shape ({n},), got {tuple(mask.shape)}")
    keep = torch.ones(n, dtype=torch.bool) if mask is None else mask.detach().cpu().bool()
    atoms = ideal_backbone(frames.detach().cpu().to(torch.float64), keep)
    if float(atoms.abs().max()) >= 9999.0:
        raise ValueError("write_pdb: coordinates beyond the PDB format's 8.3f columns")
    seq = sequence if sequence is not None else "G" * n
    lines, serial, resnum = [], 1, 0
    for i in torch.nonzero(keep).flatten().tolist():
        resnum += 1
        name = THREE_LETTER.get(seq[i].upper(), "UNK")
        for k, (atom, element) in enumerate(_ATOMS):
            x, y, z = atoms[i, k].tolist()
            lines.append(
                f"ATOM  {serial:5d}  {atom:<3s} {name:3s} A{resnum:4d}    "
                f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}          {element:>2s}"
            )
            serial += 1
    if resnum:
        lines.append(f"TER   {serial:5d}      {name:3s} A{resnum:4d}")
    lines.append("END")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
