"""Where the tests find the shared data folder: ``$MFM_DATA``, else ``shared/data`` beside the
checkout (or beside its parent, for a worktree one level deeper)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_CHECKOUT = Path(__file__).resolve().parents[1]


def data_root_with(relative: str) -> Path | None:
    """The first candidate data root holding ``relative`` (a folder), or None."""
    candidates = (
        os.environ.get("MFM_DATA"),
        _CHECKOUT.parent / "shared/data",
        _CHECKOUT.parents[1] / "shared/data",
    )
    return next((Path(p) for p in candidates if p and (Path(p) / relative).is_dir()), None)


#: the data root holding the shipped protein set (``proteins/pdb``), or None
PROTEIN_DATA = data_root_with("proteins/pdb")
needs_proteins = pytest.mark.skipif(PROTEIN_DATA is None, reason="shipped protein set not found")
