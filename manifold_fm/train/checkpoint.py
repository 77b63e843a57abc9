"""Crash-safe checkpoints: atomic write (temp file + ``os.replace``), safe load.

A checkpoint is a dict of tensors and plain Python values (no pickled objects), so it is
read with ``torch.load(weights_only=True)``. The write goes to a temporary file in the
same folder, is flushed and fsync'ed, then renamed over the target: a reader (or a run
killed with SIGKILL mid-write) sees either the old complete file or the new one, never a
torn file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["load_checkpoint", "remove_stale_temps", "save_checkpoint"]


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; FileNotFoundError/ValueError if bad."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for unreadable files
        raise ValueError(f"checkpoint {str(path)!r} could not be read: {err}") from err
    if not isinstance(state, dict) or "step" not in state:
        raise ValueError(f"checkpoint {str(path)!r} is not a manifold-fm training checkpoint")
    return state


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temp files a killed writer of ``path`` left behind; return what was removed.

    Only files named like :func:`save_checkpoint`'s temporaries (``.<name>.*.tmp`` in the
    same folder) are touched; call it before a run starts writing, never concurrently.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for f in stale:
        f.unlink(missing_ok=True)
    return stale
