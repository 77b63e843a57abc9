"""Fixed-length multiple sequence alignments (DHFR protein, RF00162 RNA, potts3 toy).

The discrete sequence benchmark needs the alignments as token ids
over a fixed alphabet and the deterministic split of the data README (record i: i % 10 == 9
test, == 8 val, else train). Files are found and checked through
:func:`manifold_fm.data.files.require_file`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from manifold_fm.data.files import DataFile, require_file

__all__ = ["MSA", "MSA_FILES", "load_msa"]

_PLMC = (
    "https://raw.githubusercontent.com/debbiemarkslab/plmc/"
    "18c9e55e3bd2f14f4968be19a807b401996c929a/example/"
)

#: name -> (file, alphabet, {extra char: mapped char})
MSA_FILES: dict[str, tuple[DataFile, str, dict[str, str]]] = {
    "DHFR": (
        DataFile(
            "sequences/DHFR.a2m",
            _PLMC + "protein/DHFR.a2m",
            "cf707187ed4d4d20a3b53b9486fc4d1ab0c9ed2379bf49f147c2d13f9a73dbfb",
        ),
        "-ACDEFGHIKLMNPQRSTVWY",
        {"X": "-"},
    ),
    "RF00162": (
        DataFile(
            "sequences/RF00162.fasta",
            _PLMC + "RNA/RF00162.fasta",
            "de76f93f834bd902fce0e20891f96512840beaa0402dbb51e718d4fb790b92e2",
        ),
        ".ACGU",
        {},
    ),
    "potts3": (
        DataFile(
            "sequences/potts3.a2m",
            _PLMC + "potts/potts3.a2m",
            "ce9ee73c70fb00401b424787c3eb27b556e345d979a7ef184e1276eccf8048ed",
        ),
        "_*^",
        {},
    ),
}


@dataclass
class MSA:
    """An alignment as ids: ``tokens`` (N, L) long over ``alphabet``; split masks by record."""

    name: str
    alphabet: str
    tokens: Tensor

    @property
    def q(self) -> int:
        return len(self.alphabet)

    @property
    def length(self) -> int:
        return self.tokens.shape[1]

    def split(self, name: str) -> Tensor:
        """Rows of the ``"train"``, ``"val"`` or ``"test"`` split (i % 10 rule), (n, L)."""
        r = torch.arange(self.tokens.shape[0]) % 10
        sel = {"train": r < 8, "val": r == 8, "test": r == 9}
        if name not in sel:
            raise ValueError(f"{self.name}: split must be train/val/test, got {name!r}")
        return self.tokens[sel[name]]


def _records(text: str, path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    head, seq = None, []
    for line in text.splitlines():
        if line.startswith(">"):
            if head is not None:
                out.append((head, "".join(seq)))
            head, seq = line[1:].strip(), []
        elif line.strip():
            if head is None:
                raise ValueError(f"{path}: sequence data before the first '>' header")
            seq.append(line.strip())
    if head is not None:
        out.append((head, "".join(seq)))
    return out


def load_msa(name: str, root: str | os.PathLike | None = None) -> MSA:
    """Load an alignment of :data:`MSA_FILES` from the data root (arg or ``$MFM_DATA``)."""
    if name not in MSA_FILES:
        raise ValueError(f"unknown alignment {name!r}; choose from {sorted(MSA_FILES)}")
    spec, alphabet, extra = MSA_FILES[name]
    path = require_file(spec, root)
    recs = _records(path.read_text(encoding="ascii"), str(path))
    index = {c: i for i, c in enumerate(alphabet)}
    index.update({k: index[v] for k, v in extra.items()})
    L = len(recs[0][1])
    rows = []
    for i, (head, seq) in enumerate(recs):
        if len(seq) != L:
            raise ValueError(f"{path}: record {i} ({head}) has length {len(seq)}, expected {L}")
        try:
            rows.append([index[c] for c in seq.upper()])
        except KeyError as err:
            raise ValueError(
                f"{path}: record {i} ({head}) has symbol {err.args[0]!r} outside {alphabet!r}"
            ) from err
    return MSA(name, alphabet, torch.tensor(rows, dtype=torch.long))
