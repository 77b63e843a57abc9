"""Earth science point clouds on S^2: volcano, earthquake, flood, fire.

Files (byte-identical copies of ``oxcsml/riemannian-score-sde`` ``data/*.csv``) live under
``$MFM_DATA/earth``; rows are ``latitude, longitude`` in degrees after ``#`` comment lines
and an optional column header. Points are mapped to the unit sphere as in RFM:
x = (cos lat cos lon, cos lat sin lon, sin lat).
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

from manifold_fm.data.files import DataFile, require_file

__all__ = ["EARTH_DATASETS", "EARTH_FILES", "latlon_to_xyz", "load_earth", "load_earth_latlon"]

_URL = (
    "https://raw.githubusercontent.com/oxcsml/riemannian-score-sde/"
    "b35b739464ca8264e418e400301f5f45cb7a16b3/data/"
)

#: benchmark name -> data file (sha256 from earth/SHA256SUMS)
EARTH_FILES: dict[str, DataFile] = {
    "volcano": DataFile(
        "earth/volerup.csv",
        _URL + "volerup.csv",
        "f7bbaf32a412f5fe82350f48e0c55100be260803969c16557343f687fd0593fc",
        "NOAA significant volcanic eruptions, 827 rows",
    ),
    "earthquake": DataFile(
        "earth/quakes_all.csv",
        _URL + "quakes_all.csv",
        "3e5e1a10fb2faf1899106264289334037d039f00f5265d13dad388a93d8ff2f7",
        "NOAA significant earthquakes, 6120 rows",
    ),
    "flood": DataFile(
        "earth/flood.csv",
        _URL + "flood.csv",
        "ffb1e3182c3053afcdeceec4727c262a29da10255d20747c08144da5b0963486",
        "Dartmouth Flood Observatory, 4875 rows",
    ),
    "fire": DataFile(
        "earth/fire.csv",
        _URL + "fire.csv",
        "c5c6c9490b1d8c58ba9eb78d9e2f82d1c1e62694ca5cff917c54600d3d83f459",
        "NASA FIRMS active fires, 12809 rows",
    ),
}
EARTH_DATASETS = tuple(EARTH_FILES)


def _parse_rows(text: str, ncols: int, where: str, sep: str | None = ",") -> list[list[float]]:
    """Numeric rows of a text table, skipping '#' comments and one non-numeric header."""
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(sep) if sep else line.split()
        try:
            vals = [float(f) for f in fields]
        except ValueError:
            if not rows:  # a column header before the first data row
                continue
            raise ValueError(f"{where}: line {lineno} is not numeric: {line!r}") from None
        if len(vals) != ncols:
            raise ValueError(f"{where}: line {lineno} has {len(vals)} columns, expected {ncols}")
        rows.append(vals)
    return rows


def load_earth_latlon(
    name: str, root: str | os.PathLike | None = None, dtype: torch.dtype = torch.float64
) -> Tensor:
    """(latitude, longitude) in degrees, shape ``(n, 2)``, in file order."""
    if name not in EARTH_FILES:
        raise ValueError(f"unknown earth dataset {name!r}; choose from {list(EARTH_DATASETS)}")
    path = require_file(EARTH_FILES[name], root)
    rows = _parse_rows(path.read_text(), 2, str(path))
    out = torch.tensor(rows, dtype=dtype)
    lat, lon = out[:, 0], out[:, 1]
    bad = (lat.abs() > 90) | (lon.abs() > 180)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"{path}: data row {i} out of range: lat {lat[i]}, lon {lon[i]}")
    return out


def latlon_to_xyz(latlon: Tensor) -> Tensor:
    """Degrees (lat, lon) ``(n, 2)`` -> unit vectors ``(n, 3)``.

    x = (cos lat cos lon, cos lat sin lon, sin lat).
    """
    lat, lon = (latlon * (math.pi / 180)).unbind(-1)
    return torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], -1)


def load_earth(
    name: str, root: str | os.PathLike | None = None, dtype: torch.dtype = torch.float64
) -> Tensor:
    """The dataset as points on S^2, shape ``(n, 3)`` (unit vectors, RFM convention)."""
    return latlon_to_xyz(load_earth_latlon(name, root, dtype))
