"""Protein structure files (PDB / mmCIF, gzipped or not) -> clean backbone chains.

Reading deposited structures is where real data is messy (missing
atoms, chain breaks, alternate locations, truncated files); everything downstream
(frames, crops, batches) may then assume contiguous chains with all four backbone atoms.

Reader: **gemmi** (``gemmi.read_structure``). Chosen over biotite because it is one
dependency-free compiled wheel, reads PDB, mmCIF and their ``.gz`` forms with one call,
and its parse errors carry the line number, which :class:`ProteinParseError` passes on.

Per file: the first model; every polymer chain; amino-acid residues only (MSE and other
modified residues count, with gemmi's one-letter code, ``X`` when unknown); atoms N, CA,
C, O, first alternate location. A residue missing any of the four backbone atoms, or a
consecutive CA-CA distance above ``break_distance`` (4.2 A), splits the chain; the pieces
outside ``[min_length, max_length]`` (residues) are dropped. Every drop is recorded in a
:class:`DropReport`. Coordinates stay in Angstrom, in the file's frame.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from manifold_fm.errors import ManifoldFMError

__all__ = [
    "BACKBONE_ATOMS",
    "BackboneChain",
    "DropRecord",
    "DropReport",
    "ProteinParseError",
    "parse_structure_file",
]

#: backbone atoms kept per residue, in this order
BACKBONE_ATOMS = ("N", "CA", "C", "O")
_LINE = re.compile(r"line (\d+)|:(\d+):")


class ProteinParseError(ManifoldFMError, ValueError):
    """A structure file that cannot be read; ``path`` and ``line`` (1-based or None)."""

    def __init__(self, path: str | os.PathLike, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"cannot parse structure file {where}: {reason}")


@dataclass
class BackboneChain:
    """One contiguous chain piece.

    Attributes:
        name: ``<file stem>_<chain id>`` plus ``_<k>`` for the k-th piece of a split chain.
        coords: float32 array ``(L, 4, 3)``, Angstrom, atoms N, CA, C, O.
        sequence: one-letter amino acids, length L.
        residue_numbers: int array ``(L,)`` of the file's residue numbers.
    """

    name: str
    coords: np.ndarray
    sequence: str
    residue_numbers: np.ndarray


@dataclass
class DropRecord:
    """What was dropped and why: ``source`` file, ``chain`` id, residue numbers
    ``first``..``last`` (inclusive, file numbering), ``reason``."""

    source: str
    chain: str
    first: int | None
    last: int | None
    reason: str


@dataclass
class DropReport:
    """Everything a parse left out: dropped residues and pieces, and skipped files.

    ``splits`` counts chains cut into pieces (at breaks or incomplete residues);
    ``skipped_files`` lists ``(path, message)`` of files skipped in lenient mode.
    """

    dropped: list[DropRecord] = field(default_factory=list)
    splits: int = 0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        """Number of files skipped (lenient mode)."""
        return len(self.skipped_files)

    def reasons(self) -> dict[str, int]:
        """Count of drop records per reason category (text before the first ':')."""
        out: dict[str, int] = {}
        for rec in self.dropped:
            key = rec.reason.split(":")[0]
            out[key] = out.get(key, 0) + 1
        return out

    def summary(self) -> str:
        """One line: drops per reason, splits, skipped files."""
        parts = [f"{k}: {v}" for k, v in sorted(self.reasons().items())]
        return (
            f"dropped {len(self.dropped)} ({', '.join(parts) or 'none'}); "
            f"{self.splits} chains split; {self.n_skipped} files skipped"
        )


def _error_line(path: Path, message: str) -> int | None:
    """The line gemmi names in ``message``, else the first malformed coordinate record."""
    m = _LINE.search(message)
    if m:
        return int(m.group(1) or m.group(2))
    if ".cif" in path.name.lower():
        return None
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if line.startswith(("ATOM  ", "HETATM")):
                try:
                    [float(line[a:b]) for a, b in ((30, 38), (38, 46), (46, 54))]
                except ValueError:
                    return i
    return None


def _read(path: Path):
    import gemmi

    try:
        st = gemmi.read_structure(str(path))
    except (RuntimeError, ValueError, OSError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ProteinParseError(path, _error_line(path, str(err)), msg) from err
    if len(st) == 0:
        raise ProteinParseError(path, None, "no model (no ATOM records)")
    return st


def _residue_atoms(res) -> tuple[np.ndarray, list[str]]:
    """(4, 3) backbone coordinates of a gemmi residue and the names of missing atoms."""
    xyz = np.full((4, 3), np.nan, dtype=np.float64)
    missing = []
    for k, name in enumerate(BACKBONE_ATOMS):
        atom = res.find_atom(name, "*")
        if atom is None:
            missing.append(name)
        else:
            xyz[k] = (atom.pos.x, atom.pos.y, atom.pos.z)
    return xyz, missing


def _one_letter(res) -> str:
    import gemmi

    info = gemmi.find_tabulated_residue(res.name)
    code = info.one_letter_code.upper() if info is not None else "X"
    return code if code.isalpha() else "X"


def _is_amino_acid(res) -> bool:
    import gemmi

    info = gemmi.find_tabulated_residue(res.name)
    return info is not None and info.is_amino_acid()


def parse_structure_file(
    path: str | os.PathLike,
    *,
    min_length: int = 1,
    max_length: int | None = None,
    break_distance: float = 4.2,
    report: DropReport | None = None,
) -> list[BackboneChain]:
    """Backbone chains of one PDB/mmCIF file (module docstring); drops go to ``report``.

    Raises:
        ProteinParseError: the file cannot be parsed (message names file and line).
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"structure file {str(path)!r} does not exist")
    report = report if report is not None else DropReport()
    st = _read(path)
    stem = path.name.split(".")[0]
    out: list[BackboneChain] = []
    for chain in st[0]:
        residues = [r for r in chain if _is_amino_acid(r)]
        if not residues:
            continue
        cid = chain.name or "_"
        pieces: list[list[tuple[np.ndarray, str, int]]] = [[]]
        for res in residues:
            xyz, missing = _residue_atoms(res)
            num = int(res.seqid.num)
            if missing:
                report.dropped.append(
                    DropRecord(str(path), cid, num, num, f"missing atoms: {', '.join(missing)}")
                )
                pieces.append([])
                continue
            cur = pieces[-1]
            if cur and np.linalg.norm(xyz[1] - cur[-1][0][1]) > break_distance:
                gap = float(np.linalg.norm(xyz[1] - cur[-1][0][1]))
                report.dropped.append(
                    DropRecord(str(path), cid, cur[-1][2], num, f"chain break: CA-CA {gap:.2f} A")
                )
                pieces.append(cur := [])
            cur.append((xyz, _one_letter(res), num))
        pieces = [p for p in pieces if p]
        report.splits += len(pieces) > 1
        for k, piece in enumerate(pieces):
            n = len(piece)
            if n < min_length or (max_length is not None and n > max_length):
                report.dropped.append(
                    DropRecord(
                        str(path),
                        cid,
                        piece[0][2],
                        piece[-1][2],
                        f"length: {n} outside [{min_length}, {max_length}]",
                    )
                )
                continue
            suffix = f"_{k}" if len(pieces) > 1 else ""
            out.append(
                BackboneChain(
                    name=f"{stem}_{cid}{suffix}",
                    coords=np.stack([p[0] for p in piece]).astype(np.float32),
                    sequence="".join(p[1] for p in piece),
                    residue_numbers=np.array([p[2] for p in piece], dtype=np.int64),
                )
            )
    return out
