"""A folder of structure files -> one compact cached tensor file of backbone chains.

Parsing 190 gzipped PDB files takes seconds, a training run wants
them in milliseconds; the cache must never go stale, so it is keyed on every source's name,
size and modification time (and the parse settings) and rewritten atomically.

:func:`load_proteins` returns a :class:`ProteinSet`: all residues concatenated,
``coords`` float32 ``(R, 4, 3)`` Angstrom (N, CA, C, O, the files' frame, not centred, not
scaled), ``offsets`` / ``lengths`` int64 ``(C,)``, ``names`` and ``sequences`` (C strings),
and the :class:`~manifold_fm.proteins.parse.DropReport` of the parse. The cache file is
a ``torch.save`` of tensors, strings and ints only, read back with ``weights_only=True``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from manifold_fm._io import atomic_write
from manifold_fm.data.files import data_root
from manifold_fm.proteins.parse import (
    DropRecord,
    DropReport,
    ProteinParseError,
    parse_structure_file,
)

__all__ = ["STRUCTURE_SUFFIXES", "ProteinSet", "find_structure_files", "load_proteins"]

STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".ent.gz", ".cif.gz")
_CACHE_VERSION = 1


@dataclass
class ProteinSet:
    """Backbone chains, concatenated (module docstring)."""

    coords: Tensor
    offsets: Tensor
    lengths: Tensor
    names: list[str]
    sequences: list[str]
    report: DropReport = field(default_factory=DropReport)

    def __len__(self) -> int:
        return len(self.names)

    def chain(self, i: int) -> Tensor:
        """Backbone atoms of chain ``i``, ``(L_i, 4, 3)``."""
        o, n = int(self.offsets[i]), int(self.lengths[i])
        return self.coords[o : o + n]


def find_structure_files(root: str | os.PathLike) -> list[Path]:
    """Structure files under ``root`` (recursive), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"structure folder {str(root)!r} does not exist")
    return sorted(p for p in root.rglob("*") if p.name.lower().endswith(STRUCTURE_SUFFIXES))


def _key(files: Sequence[Path], settings: dict) -> list:
    stats = [(str(p.resolve()), st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()]]
    return [_CACHE_VERSION, sorted(settings.items()), stats]


def _report_state(rep: DropReport) -> dict:
    return {
        "dropped": [[r.source, r.chain, r.first, r.last, r.reason] for r in rep.dropped],
        "splits": rep.splits,
        "skipped": [list(s) for s in rep.skipped_files],
    }


def _report_from(state: dict) -> DropReport:
    return DropReport(
        dropped=[DropRecord(*r) for r in state["dropped"]],
        splits=int(state["splits"]),
        skipped_files=[tuple(s) for s in state["skipped"]],
    )


def _parse_all(files: Sequence[Path], settings: dict, lenient: bool) -> ProteinSet:
    report = DropReport()
    chains = []
    for p in files:
        try:
            chains.extend(parse_structure_file(p, report=report, **settings))
        except ProteinParseError as err:
            if not lenient:
                raise
            warnings.warn(f"skipping {err}", stacklevel=3)
            report.skipped_files.append((str(p), str(err)))
    if not chains:
        raise ValueError(f"no chain of {len(files)} structure files passed the filters")
    lengths = torch.tensor([len(c.sequence) for c in chains], dtype=torch.int64)
    offsets = torch.cumsum(lengths, 0) - lengths
    coords = torch.from_numpy(np.concatenate([c.coords for c in chains]))
    return ProteinSet(
        coords, offsets, lengths, [c.name for c in chains], [c.sequence for c in chains], report
    )


def load_proteins(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    cache: str | os.PathLike | None = None,
    min_length: int = 40,
    max_length: int | None = None,
    break_distance: float = 4.2,
    lenient: bool = False,
) -> ProteinSet:
    """Parse a folder (or list) of PDB/mmCIF files into a :class:`ProteinSet`, cached.

    Args:
        source: a folder (searched recursively for :data:`STRUCTURE_SUFFIXES`) or files.
        cache: cache file; reused when every source's name, size and mtime and the
            settings match what it recorded, else re-parsed and rewritten atomically.
        min_length, max_length: keep chain pieces with min_length <= L <= max_length.
        break_distance: CA-CA distance (A) above which a chain is split.
        lenient: skip unparsable files with a warning (counted in
            ``report.skipped_files``) instead of raising ProteinParseError.
    """
    if not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"load_proteins: min_length must be an int >= 1, got {min_length!r}")
    if max_length is not None and (not isinstance(max_length, int) or max_length < min_length):
        raise ValueError(
            f"load_proteins: max_length must be None or an int >= min_length={min_length}, "
            f"got {max_length!r}"
        )
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        files = find_structure_files(source)
    elif isinstance(source, (str, os.PathLike)):
        files = [Path(source)]
    else:
        files = [Path(p) for p in source]
    if not files:
        raise FileNotFoundError(f"no structure files ({', '.join(STRUCTURE_SUFFIXES)}) in {source}")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"structure file {missing[0]!r} does not exist")
    settings = {
        "min_length": min_length,
        "max_length": max_length,
        "break_distance": float(break_distance),
    }
    key = _key(files, {**settings, "lenient": bool(lenient)})
    cache = Path(cache) if cache is not None else None
    if cache is not None and cache.is_file():
        try:
            state = torch.load(cache, weights_only=True)
        except Exception:  # an unreadable cache is rebuilt, never trusted
            state = None
        if isinstance(state, dict) and state.get("key") == key:
            return ProteinSet(
                state["coords"],
                state["offsets"],
                state["lengths"],
                list(state["names"]),
                list(state["sequences"]),
                _report_from(state["report"]),
            )
    data = _parse_all(files, settings, lenient)
    if cache is not None:
        state = {
            "key": key,
            "coords": data.coords,
            "offsets": data.offsets,
            "lengths": data.lengths,
            "names": data.names,
            "sequences": data.sequences,
            "report": _report_state(data.report),
        }
        atomic_write(cache, lambda tmp: torch.save(state, tmp))
    return data


def shipped_proteins_dir(root: str | os.PathLike | None = None) -> Path:
    """``<data root>/proteins/pdb`` (root: argument, else ``$MFM_DATA``); raise if absent."""
    path = data_root(root) / "proteins" / "pdb"
    if not path.is_dir():
        raise FileNotFoundError(
            f"shipped protein set {str(path)!r} not found: it holds the 190 gzipped PDB "
            "chains described in proteins/README.md of the shared data folder"
        )
    return path
