"""Locate, check and describe benchmark data files kept outside the repository.

Every loader declares its files as :class:`DataFile` (relative path, canonical source URL,
sha256). :func:`require_file` resolves the root (argument, else env ``MFM_DATA``), raises
``FileNotFoundError`` naming exactly which file is missing and where to get it, and
verifies the checksum once per process (``ValueError`` on a mismatch).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["ENV_VAR", "DataFile", "data_root", "load_tensor_file", "require_file", "sha256_of"]

ENV_VAR = "MFM_DATA"
_VERIFIED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class DataFile:
    """A data file: ``relpath`` under the data root, its source ``url`` and ``sha256``.

    ``url`` is a direct link to the file's bytes (a raw-file URL pinned to a commit), so
    downloading it reproduces ``sha256``. A file derived from a download by a documented
    recipe names the downloaded file's checksum in ``source_sha256`` (``sha256`` is then
    the checksum of the derived file).
    """

    relpath: str
    url: str
    sha256: str | None = None
    description: str = ""
    source_sha256: str | None = None


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$MFM_DATA``; raise if neither is set."""
    if root is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            raise FileNotFoundError(
                f"no data root: pass root=... or set the environment variable {ENV_VAR} "
                "to the folder holding the benchmark data (e.g. ../shared/data)"
            )
        root = env
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data root {str(path)!r} is not a directory (from {ENV_VAR}?)")
    return path


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def require_file(
    spec: DataFile, root: str | os.PathLike | None = None, verify: bool = True
) -> Path:
    """Path of ``spec`` under the data root; FileNotFoundError / ValueError if absent or bad."""
    base = data_root(root)
    path = base / spec.relpath
    if not path.is_file():
        if spec.url:
            source = f"{'derive it from' if spec.source_sha256 else 'obtain it from'} {spec.url}"
        else:
            source = (
                "no source is recorded for it; a file of your own is read from its own path "
                "by manifold_fm.data.user_files.load_data_file ([data] kind = 'file')"
            )
        raise FileNotFoundError(
            f"missing data file {spec.relpath!r}: expected at {str(path)!r}; {source}"
            + (f" ({spec.description})" if spec.description else "")
        )
    key = (str(path.resolve()), spec.sha256 or "")
    if verify and spec.sha256 and key not in _VERIFIED:
        got = sha256_of(path)
        if got != spec.sha256:
            raise ValueError(
                f"checksum mismatch for {str(path)!r}: sha256 {got[:16]}..., expected "
                f"{spec.sha256[:16]}... (re-download from {spec.url})"
            )
        _VERIFIED.add(key)
    return path


def load_tensor_file(
    spec: DataFile, root: str | os.PathLike | None = None
) -> Tensor | dict[str, Tensor]:
    """Read a ``.pt`` data file holding a Tensor or a dict of tensors with an ``'x1'`` key.

    The file is found and checksum-verified with :func:`require_file` and read with
    ``weights_only=True`` (no pickled code runs). ValueError when it holds anything else
    or cannot be read as a torch file.
    """
    file = require_file(spec, root=root)
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for files it cannot read
        raise ValueError(f"data file {str(file)!r} is not a readable torch .pt file") from err
    if isinstance(obj, Tensor) or (
        isinstance(obj, dict) and "x1" in obj and all(isinstance(v, Tensor) for v in obj.values())
    ):
        return obj
    raise ValueError(
        f"{file}: expected a Tensor or a dict of tensors with 'x1', got {type(obj).__name__}"
    )
