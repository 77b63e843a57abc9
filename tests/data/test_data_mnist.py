"""MNIST loader: the real files, splits, dequantisation, bits/dim, errors naming the file."""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch

from manifold_fm.data.mnist import (
    MNIST_FILES,
    MnistFormatError,
    bits_per_dim,
    dequantize,
    load_mnist,
    load_mnist_split,
    read_idx,
)

_ROOT = os.environ.get("MFM_DATA")
needs_mnist = pytest.mark.skipif(
    not _ROOT or not (Path(_ROOT) / MNIST_FILES["images"].relpath).is_file(),
    reason="MFM_DATA/mnist is not available",
)


def _copy_root(tmp_path: Path) -> Path:
    (tmp_path / "mnist").mkdir()
    for spec in MNIST_FILES.values():
        shutil.copy(Path(_ROOT) / spec.relpath, tmp_path / spec.relpath)
    return tmp_path


@needs_mnist
def test_mnist_files_parse_and_split():
    x, y = load_mnist()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (10000,) and int(y.min()) == 0 and int(y.max()) == 9
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the known start of t10k
    tr, ev = load_mnist_split("train"), load_mnist_split("eval")
    assert tr["x1"].shape == (9000, 1, 28, 28) and ev["x1"].shape == (1000, 1, 28, 28)
    torch.testing.assert_close(ev["label"], y[9000:])
    assert float(tr["x1"].min()) >= -1.0 and float(tr["x1"].max()) <= 1.0
    raw = load_mnist_split("eval", dequantized=False)["x1"]
    assert raw.dtype == torch.uint8 and torch.equal(raw, x[9000:])
    with pytest.raises(ValueError, match="split"):
        load_mnist_split("test")


def test_dequantize_stays_in_the_pixel_cell():
    x = torch.arange(256, dtype=torch.uint8).repeat(50)
    z = dequantize(x, torch.Generator().manual_seed(0))
    y = (z + 1) * 128  # back on the [0, 256) scale
    assert bool((y >= x.float() - 1e-4).all()) and bool((y < x.float() + 1 + 1e-4).all())


def test_bits_per_dim_is_the_change_of_variables():
    d = 784
    # a uniform density on [-1, 1]^d has -log p = d log 2; on [0, 256)^d it is 8 bits/dim
    assert bits_per_dim(d * math.log(2.0), d) == pytest.approx(8.0)
    # a density on [-1, 1] that is a factor e^d denser saves 1 / log 2 bits per dimension
    assert bits_per_dim(d * math.log(2.0) - d, d) == pytest.approx(8.0 - 1 / math.log(2.0))
    assert float(bits_per_dim(torch.tensor([0.0]), d)) == pytest.approx(7.0)


@needs_mnist
@pytest.mark.parametrize("which", ["images", "labels"])
def test_missing_file_is_named(tmp_path, which):
    root = _copy_root(tmp_path)
    (root / MNIST_FILES[which].relpath).unlink()
    with pytest.raises(FileNotFoundError, match=Path(MNIST_FILES[which].relpath).name):
        load_mnist(root)


@needs_mnist
def test_corrupt_file_fails_its_checksum_naming_it(tmp_path):
    root = _copy_root(tmp_path)
    path = root / MNIST_FILES["labels"].relpath
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_mnist(root)


def _idx(tmp_path: Path, magic: int, dims: tuple[int, ...], payload: bytes) -> Path:
    path = tmp_path / "x-idx.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">i", magic) + struct.pack(f">{len(dims)}i", *dims) + payload)
    return path


def test_read_idx_checks_magic_and_length_naming_the_file(tmp_path):
    good = _idx(tmp_path, 2049, (4,), bytes([1, 2, 3, 4]))
    assert read_idx(good, 2049).tolist() == [1, 2, 3, 4]
    with pytest.raises(MnistFormatError, match=r"x-idx\.gz.*magic 2049"):
        read_idx(good, 2051)
    short = _idx(tmp_path, 2049, (4,), bytes([1, 2]))
    with pytest.raises(MnistFormatError, match=r"x-idx\.gz.*truncated"):
        read_idx(short, 2049)
    plain = tmp_path / "plain.gz"
    plain.write_bytes(b"not gzip at all")
    with pytest.raises(MnistFormatError, match=r"plain\.gz"):
        read_idx(plain, 2049)
