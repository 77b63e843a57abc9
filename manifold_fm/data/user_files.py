"""A user's own data files: ``.npy``, ``.npz``, ``.csv`` and ``.pt``, read from the path given.

:func:`load_data_file` is what ``[data] kind = "file"`` calls. Paths:

* an absolute path is read as given;
* a relative path is looked up in the working directory first, then in each folder of
  ``search_dirs`` in order (``mfm train`` passes the config file's folder), and the error
  of a missing file names every place that was tried.

``MFM_DATA`` plays no part here: it is the root of the shipped benchmark sets only
(:mod:`manifold_fm.data.files`).

Formats (nothing is unpickled: ``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``):

* ``.npy``: one array, the points ``(n, *event_shape)``;
* ``.csv``: one point per row, comma-separated numbers, an optional header line (a first
  line with a field that is not a number); shape ``(n, columns)``;
* ``.npz`` / ``.pt``: one array (a ``.pt`` may also hold a tensor), or several named ones:
  ``key`` picks one as the points; without ``key`` a file whose names include ``x1`` gives
  the dict of all of them (``x1`` the points, the other names conditions such as ``label``),
  and a file with one name gives that array.

Floating-point arrays are cast to ``dtype`` (default float32, the dtype of the models);
integer arrays (token ids, labels) keep their type. The space validates the points when the
Trainer starts, as for every data kind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from manifold_fm._io import atomic_write
from manifold_fm.errors import ManifoldFMError

__all__ = [
    "DATA_SUFFIXES",
    "POINT_SUFFIXES",
    "UserDataError",
    "check_point_suffix",
    "load_data_file",
    "resolve_data_path",
    "save_points",
]

#: the file endings :func:`load_data_file` reads
DATA_SUFFIXES = (".npy", ".npz", ".csv", ".pt")
#: the file endings :func:`save_points` writes
POINT_SUFFIXES = (".pt", ".npy", ".csv")


class UserDataError(ManifoldFMError, ValueError):
    """A data file that exists but cannot be used: its format, its content or its keys."""


def resolve_data_path(
    path: str | os.PathLike, search_dirs: Sequence[str | os.PathLike] = ()
) -> Path:
    """The file ``path`` names: absolute as given; relative from the working directory, then
    from each of ``search_dirs``. FileNotFoundError naming every place tried."""
    p = Path(path).expanduser()
    tried = [p] if p.is_absolute() else [Path.cwd() / p, *(Path(d) / p for d in search_dirs)]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    where = ", ".join(repr(str(c)) for c in tried)
    raise FileNotFoundError(f"data file {str(path)!r} not found (looked for {where})")


def _csv(file: Path) -> np.ndarray:
    with open(file, encoding="utf-8") as f:
        first = f.readline()
    try:
        [float(field) for field in first.strip().split(",")]
        header = 0
    except ValueError:
        header = 1
    try:
        return np.loadtxt(file, delimiter=",", skiprows=header, ndmin=2, encoding="utf-8")
    except ValueError as err:
        raise UserDataError(f"{file}: not a table of comma-separated numbers: {err}") from None


def _named(file: Path) -> Mapping[str, np.ndarray | Tensor] | np.ndarray | Tensor:
    suffix = file.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(file, allow_pickle=False)
        except ValueError as err:
            raise UserDataError(f"{file}: not a readable .npy array: {err}") from None
    if suffix == ".npz":
        try:
            with np.load(file, allow_pickle=False) as z:
                return {name: z[name] for name in z.files}
        except ValueError as err:
            raise UserDataError(f"{file}: not a readable .npz archive: {err}") from None
    if suffix == ".csv":
        return _csv(file)
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for files it cannot read
        raise UserDataError(f"{file}: not a readable torch .pt file ({err})") from None
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return {str(k): v for k, v in obj.items()}
    raise UserDataError(f"{file}: expected a tensor or a dict of tensors, got {type(obj).__name__}")


def _as_tensor(a: np.ndarray | Tensor, dtype: torch.dtype | None, what: str) -> Tensor:
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise UserDataError(f"{what}: arrays of {a.dtype} cannot be data points")
        a = torch.from_numpy(np.ascontiguousarray(a))
    if a.is_floating_point() and dtype is not None:
        a = a.to(dtype)
    return a


def load_data_file(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    dtype: torch.dtype | None = torch.float32,
    search_dirs: Sequence[str | os.PathLike] = (),
) -> Tensor | dict[str, Tensor]:
    """Read a user's data file: the points ``(n, *event_shape)``, or ``{"x1": points, ...}``.

    Args:
        path: the file (see the module docstring for how a relative path is found).
        key: the array of an ``.npz`` / ``.pt`` dict holding the points.
        dtype: floating-point arrays are cast to it (None keeps the file's dtype).
        search_dirs: folders tried after the working directory for a relative path.

    Raises:
        FileNotFoundError: no such file (every place tried is named).
        UserDataError: an unknown ending, a file that cannot be read, a missing ``key``, or a
            dict with several arrays and neither ``key`` nor ``x1``.
    """
    _checked_suffix(path, DATA_SUFFIXES, "data file")
    file = resolve_data_path(path, search_dirs)
    content = _named(file)
    if not isinstance(content, Mapping):
        if key:
            raise UserDataError(f"{file} holds one array: key = {key!r} does not apply")
        return _as_tensor(content, dtype, str(file))
    names = sorted(content)
    if key:
        if key not in content:
            raise UserDataError(f"{file} has no array {key!r} (it holds: {', '.join(names)})")
        return _as_tensor(content[key], dtype, f"{file}[{key!r}]")
    if "x1" in content:
        return {n: _as_tensor(content[n], dtype, f"{file}[{n!r}]") for n in names}
    if len(names) == 1:
        return _as_tensor(content[names[0]], dtype, f"{file}[{names[0]!r}]")
    raise UserDataError(
        f"{file} holds several arrays ({', '.join(names)}): pass key = '<name>' for the "
        "points, or name them 'x1' (the other arrays then become conditions)"
    )


def save_points(
    path: str | os.PathLike, x: Tensor, extra: Mapping[str, object] | None = None
) -> Path:
    """Write points ``x`` ``(n, *event_shape)`` in the format the ending of ``path`` names.

    ``.pt``: ``{"x": x, **extra}`` (torch, readable with ``weights_only=True``); ``.npy``: the
    array; ``.csv``: one point per row, event dimensions flattened, full float precision.
    The write is atomic (:func:`manifold_fm._io.atomic_write`). UserDataError for another
    ending (check it with :func:`check_point_suffix` before producing the points).
    """
    path = Path(path)
    suffix = _checked_suffix(path, POINT_SUFFIXES, "output file")
    x = x.detach().cpu()
    if suffix == ".pt":
        return atomic_write(path, lambda tmp: torch.save({"x": x, **(extra or {})}, tmp))
    a = x.numpy()
    if suffix == ".npy":

        def write_npy(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, a)

        return atomic_write(path, write_npy)
    rows = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    fmt = "%d" if a.dtype.kind in "biu" else "%.17g"
    return atomic_write(path, lambda tmp: np.savetxt(tmp, rows, delimiter=",", fmt=fmt))


def check_point_suffix(path: str | os.PathLike) -> None:
    """UserDataError unless ``path`` ends in one of :data:`POINT_SUFFIXES`."""
    _checked_suffix(path, POINT_SUFFIXES, "output file")


def _checked_suffix(path: str | os.PathLike, allowed: Sequence[str], what: str) -> str:
    """The lower-case ending of ``path``; UserDataError naming ``allowed`` if it is not one."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise UserDataError(
            f"{what} {str(path)!r}: unknown ending {suffix or '(none)'!r}; "
            f"use one of {', '.join(allowed)}"
        )
    return suffix
