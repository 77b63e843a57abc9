"""The one atomic file writer: a reader sees the old file or the new one, never half of one.

:func:`atomic_write` calls ``write(tmp)`` on a temporary file in the target's folder
(``.<name>.<random>.tmp<suffix>``: same file system, so the final rename is atomic; the
target's suffix is kept so writers that infer a format from it, such as matplotlib's
``savefig``, still do), flushes it to disk (``fsync``), and renames it over the target with
``os.replace``. If ``write`` raises, the temporary file is removed and the target keeps its
old content; a process killed mid-write leaves at most a temporary file, which
:func:`remove_stale_temps` clears before the next run writes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "remove_stale_temps"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically through ``write(tmp)``; return ``path`` as a Path.

    Args:
        path: the target file; its folder is created if needed.
        write: called once with the temporary file's path; it writes the whole content
            there (``torch.save``, ``savefig``, ``Path.write_text``, ...).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed :func:`atomic_write` of ``path`` left behind.

    Only names of the form ``.<name>.<anything>.tmp[<suffix>]`` in the same folder are
    touched; call it before a run starts writing, never concurrently with a writer.
    Returns the removed paths, sorted.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = sorted(
        p
        for p in path.parent.glob(f".{path.name}.*.tmp*")
        if p.name.endswith((".tmp", f".tmp{path.suffix}"))
    )
    for f in stale:
        f.unlink(missing_ok=True)
    return stale
