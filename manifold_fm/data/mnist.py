"""MNIST from the original IDX files under ``MFM_DATA/mnist`` (the 10k test split).

Only the 10,000-image test split is available offline; the benchmark protocol splits it
into the first 9,000 images (train) and the last 1,000 (held-out evaluation).

Preprocessing (uniform dequantisation, the protocol of RealNVP / Glow / FFJORD / flow
matching papers): a pixel x in {0, ..., 255} becomes y = x + u, u ~ U[0, 1), a point of
[0, 256); the model sees z = 2 y / 256 - 1 in [-1, 1). Densities change by the constant
Jacobian dz/dy = 1/128 per dimension, so for an image of D = 784 dimensions

    -log p_y(y) = -log p_z(z) + D log 128,
    bits/dim    = (-log p_z(z) / D + log 128) / log 2,

the number reported in the literature (bits per dimension on the [0, 256) scale, an upper
bound on the discrete model's code length). :func:`bits_per_dim` does this conversion.
"""

from __future__ import annotations

import gzip
import math
import os
import struct

import torch
from torch import Tensor

from manifold_fm.data.files import DataFile, require_file
from manifold_fm.errors import ManifoldFMError

__all__ = [
    "MNIST_FILES",
    "MnistFormatError",
    "bits_per_dim",
    "dequantize",
    "load_mnist",
    "load_mnist_split",
    "read_idx",
]

_BASE = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES: dict[str, DataFile] = {
    "images": DataFile(
        relpath="mnist/t10k-images-idx3-ubyte.gz",
        url=_BASE + "t10k-images-idx3-ubyte.gz",
        sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        description="MNIST test images, md5 9fb629c4189551a2d022fa330f9573f3",
    ),
    "labels": DataFile(
        relpath="mnist/t10k-labels-idx1-ubyte.gz",
        url=_BASE + "t10k-labels-idx1-ubyte.gz",
        sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        description="MNIST test labels, md5 ec29112dd5afa0611ce80d1b7f02629c",
    ),
}
#: IDX magic numbers: unsigned bytes, 3 dims (images) / 1 dim (labels)
_MAGIC = {"images": 2051, "labels": 2049}
N_TRAIN, N_EVAL = 9000, 1000


class MnistFormatError(ManifoldFMError, ValueError):
    """An IDX file that is not what it should be (magic number, sizes, truncation)."""


def read_idx(path: str | os.PathLike, magic: int) -> Tensor:
    """Read a gzip IDX file of unsigned bytes: uint8 tensor of the header's dims.

    Raises :class:`MnistFormatError` naming the file on a bad gzip stream, a wrong magic
    number or a payload shorter or longer than the header says.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise MnistFormatError(f"{str(path)!r} is not a readable gzip file: {err}") from err
    if len(raw) < 4:
        raise MnistFormatError(f"{str(path)!r}: truncated IDX header ({len(raw)} bytes)")
    got = struct.unpack(">i", raw[:4])[0]
    if got != magic:
        raise MnistFormatError(f"{str(path)!r}: IDX magic {got}, expected {magic}")
    ndim = magic & 0xFF
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise MnistFormatError(f"{str(path)!r}: truncated IDX header ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}i", raw[4:head])
    want = math.prod(dims)
    if len(raw) - head != want:
        raise MnistFormatError(
            f"{str(path)!r}: {len(raw) - head} data bytes, header {dims} says {want} (truncated?)"
        )
    return torch.frombuffer(bytearray(raw[head:]), dtype=torch.uint8).reshape(dims)


def load_mnist(root: str | os.PathLike | None = None, verify: bool = True) -> tuple[Tensor, Tensor]:
    """The 10k MNIST images ``(10000, 1, 28, 28)`` uint8 and labels ``(10000,)`` long.

    Files are found (and sha256-checked unless ``verify`` is False) with
    :func:`~manifold_fm.data.files.require_file`: a missing file raises FileNotFoundError
    naming it and its source, a corrupt one ValueError naming it.
    """
    images = read_idx(require_file(MNIST_FILES["images"], root, verify), _MAGIC["images"])
    labels = read_idx(require_file(MNIST_FILES["labels"], root, verify), _MAGIC["labels"])
    if images.dim() != 3 or images.shape[0] != labels.shape[0]:
        raise MnistFormatError(
            f"MNIST: {tuple(images.shape)} images vs {tuple(labels.shape)} labels"
        )
    return images.unsqueeze(1), labels.long()


def dequantize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = 2 (x + u) / 256 - 1 with u ~ U[0, 1): uint8 ``(n, ...)`` -> float32 in [-1, 1)."""
    u = torch.rand(images.shape, generator=generator)
    return (images.float() + u) / 128.0 - 1.0


def load_mnist_split(
    split: str,
    root: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    dequantized: bool = True,
) -> dict[str, Tensor]:
    """``{"x1": images, "label": (n,) long}`` for ``split`` 'train' (first 9,000) or 'eval'
    (last 1,000). ``x1`` is dequantised to [-1, 1) (float32, ``(n, 1, 28, 28)``) with a
    generator seeded by ``seed``, or the raw uint8 pixels when ``dequantized`` is False.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"load_mnist_split: split must be 'train' or 'eval', got {split!r}")
    images, labels = load_mnist(root)
    sl = slice(0, N_TRAIN) if split == "train" else slice(N_TRAIN, N_TRAIN + N_EVAL)
    x, y = images[sl], labels[sl]
    if dequantized:
        x = dequantize(x, torch.Generator().manual_seed(seed))
    return {"x1": x, "label": y}


def bits_per_dim(nll: Tensor | float, dim: int) -> Tensor | float:
    """Bits/dim on the [0, 256) scale from the NLL (nats) of an image in [-1, 1]^dim.

    bpd = (nll / dim + log 128) / log 2 (module docstring).
    """
    return (nll / dim + math.log(128.0)) / math.log(2.0)
