"""The space, model and data kinds manifold_fm ships, registered by name for TOML runs.

Each builder is a thin, typed adapter from config keywords to a library object; the logic
lives with the object it builds (spaces in :mod:`manifold_fm.spaces`, networks in
:mod:`manifold_fm.nn`, loaders in :mod:`manifold_fm.data`). Annotations are the contract
the registry checks config values against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.nn.build import build_mlp
from manifold_fm.spaces.base import Space

__all__ = ["register"]


def _euclidean(
    shape: int | list[int] = 2, schedule: str | None = None, prior_std: float = 1.0
) -> Space:
    """R^shape with an affine Gaussian path (``schedule``) and prior N(0, prior_std^2)."""
    from manifold_fm.spaces.euclidean import Euclidean

    return Euclidean(shape if isinstance(shape, int) else tuple(shape), schedule, prior_std)


def _vmf_mixture(
    space: Space,
    n: int = 20000,
    k: int = 4,
    kappa: float = 50.0,
    seed: int = 0,
    labels: bool = False,
) -> dict[str, Tensor]:
    """Equal mixture of k von Mises-Fisher components on S^2 with random means
    (:func:`manifold_fm.data.synthetic.random_vmf_mixture_data`).

    Returns ``{"x1": (n, 3) float32}``, plus ``"label": (n,) long`` (the component index,
    a condition: the model needs ``n_classes``) when ``labels`` is true.
    """
    from manifold_fm.data.synthetic import random_vmf_mixture_data

    if tuple(space.event_shape) != (3,):
        raise ValueError(
            "[data] kind='vmf_mixture' draws points of S^2 in R^3; use [space] "
            f"kind='sphere', d=2 (Sphere(2)), got {space!r}"
        )
    x, label, _ = random_vmf_mixture_data(n, k, kappa, seed)
    x = x.float()
    space.validate(x)
    return {"x1": x, "label": label} if labels else {"x1": x}


def _demo(space: Space, n: int = 20000, seed: int = 0) -> Tensor:
    """The training set of ``mfm demo``: ``n`` draws of its five-vMF target on S^2,
    float32 (n, 3), from a generator seeded with ``seed``."""
    from manifold_fm.data.synthetic import demo_mixture

    x = demo_mixture().sample(n, generator=torch.Generator().manual_seed(seed)).float()
    space.validate(x)
    return x


def _earth(space: Space, name: str = "volcano", root: str | None = None) -> Tensor:
    """Earth science points on S^2 (volcano, earthquake, flood, fire), float32 (n, 3)."""
    from manifold_fm.data.earth import load_earth

    return load_earth(name, root).float()


def _rna(space: Space, root: str | None = None) -> Tensor:
    """RNA torsion angles on T^7, float32 (n, 7) in [0, 2 pi)."""
    from manifold_fm.data.torus import load_rna

    return load_rna(root).float()


def _tensor_file(
    space: Space, path: str = "", url: str = "", sha256: str | None = None, root: str | None = None
) -> Tensor | dict[str, Tensor]:
    """A ``.pt`` file under the data root (``$MFM_DATA``) holding a Tensor or a dict of
    tensors with ``'x1'`` (:func:`manifold_fm.data.files.load_tensor_file`)."""
    from manifold_fm.data.files import DataFile, load_tensor_file

    if not path:
        raise ValueError("[data] kind='tensor_file' needs path = '<file under MFM_DATA>'")
    return load_tensor_file(DataFile(relpath=path, url=url, sha256=sha256), root=root)


def _file(
    space: Space,
    path: str = "",
    key: str = "",
    dtype: str = "float32",
    *,
    config_dir: str = "",
) -> Tensor | dict[str, Tensor]:
    """Your own data file: ``.npy``, ``.npz``, ``.csv`` or ``.pt``
    (:func:`manifold_fm.data.user_files.load_data_file`). A relative ``path`` is looked up
    from the working directory, then from the config file's folder; ``key`` names the array
    of an ``.npz`` / ``.pt`` dict that holds the points; floating-point data is cast to
    ``dtype`` ('float32' or 'float64')."""
    from manifold_fm.data.user_files import load_data_file

    if not path:
        raise ValueError("[data] kind='file' needs path = '<your .npy/.npz/.csv/.pt file>'")
    dtypes = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in dtypes:
        raise ValueError(f"[data] kind='file': dtype must be one of {list(dtypes)}, got {dtype!r}")
    dirs = (config_dir,) if config_dir else ()
    return load_data_file(path, key=key or None, dtype=dtypes[dtype], search_dirs=dirs)


def _unet(
    space: Space,
    base_channels: int = 32,
    channel_mults: list[int] | None = None,
    num_res_blocks: int = 1,
    attn_heads: int = 4,
    groups: int = 8,
    dropout: float = 0.0,
    n_classes: int = 0,
) -> nn.Module:
    """:class:`manifold_fm.nn.UNet` for a space of images ``(C, H, W)``; ``n_classes > 0``
    adds a ``label`` condition with a null class for guidance."""
    from manifold_fm.nn import UNet

    shape = tuple(space.event_shape)
    if len(shape) != 3:
        raise ValueError(f"[model] kind='unet' needs a space of images (C, H, W), got {space!r}")
    if n_classes < 0:
        raise ValueError(f"[model] kind='unet': n_classes must be >= 0, got {n_classes}")
    return UNet(
        in_channels=shape[0],
        base_channels=base_channels,
        channel_mults=tuple(channel_mults or (1, 2, 2)),
        num_res_blocks=num_res_blocks,
        attn_heads=attn_heads,
        groups=groups,
        dropout=dropout,
        n_classes=n_classes or None,
        image_size=shape[1:],
    )


def _mnist(
    space: Space, split: str = "train", seed: int = 0, root: str | None = None
) -> dict[str, Tensor]:
    """MNIST (:func:`manifold_fm.data.mnist.load_mnist_split`): ``{"x1": (n, 1, 28, 28)``
    dequantised to [-1, 1), ``"label": (n,)}``; the model reads ``label`` (``n_classes``)."""
    from manifold_fm.data.mnist import load_mnist_split

    if tuple(space.event_shape) != (1, 28, 28):
        raise ValueError(
            f"[data] kind='mnist' holds 1x28x28 images; use [space] kind='euclidean', "
            f"shape=[1, 28, 28], got {space!r}"
        )
    return load_mnist_split(split, root, seed=seed)


def register(spaces: Any, models: Any, datasets: Any) -> None:
    """Add the kinds manifold_fm ships to the registries of :mod:`manifold_fm.cli.registry`."""
    spaces.add_lazy("sphere", "manifold_fm.spaces.sphere:Sphere")
    spaces.add_lazy("torus", "manifold_fm.spaces.torus:FlatTorus")
    spaces.add_lazy("so3", "manifold_fm.spaces.so3:SO3")
    spaces.add_lazy("se3", "manifold_fm.spaces.se3:SE3")
    models.register("mlp")(build_mlp)
    spaces.register("euclidean")(_euclidean)
    datasets.register("vmf_mixture")(_vmf_mixture)
    datasets.register("demo")(_demo)
    datasets.register("earth")(_earth)
    datasets.register("rna")(_rna)
    datasets.register("tensor_file")(_tensor_file)
    datasets.register("file")(_file)
    models.register("unet")(_unet)
    datasets.register("mnist")(_mnist)
