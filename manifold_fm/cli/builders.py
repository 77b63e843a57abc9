"""The space, model and data kinds manifold_fm ships, registered by name for TOML runs.

Each builder is a thin, typed adapter from config keywords to a library object; the logic
lives with the object it builds (spaces in :mod:`manifold_fm.spaces`, networks in
:mod:`manifold_fm.nn`, loaders in :mod:`manifold_fm.data`). Annotations are the contract
the registry checks config values against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from manifold_fm.cli.registry import DATASETS, MODELS, SPACES
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__: list[str] = []

SPACES.add_lazy("sphere", "manifold_fm.spaces.sphere:Sphere")
SPACES.add_lazy("torus", "manifold_fm.spaces.torus:FlatTorus")
SPACES.add_lazy("so3", "manifold_fm.spaces.so3:SO3")
SPACES.add_lazy("se3", "manifold_fm.spaces.se3:SE3")
SPACES.add_lazy("se3_backbone", "manifold_fm.spaces.se3_backbone:BackboneSE3")
MODELS.add_lazy("framenet", "manifold_fm.cli.builders_protein:framenet")
MODELS.add_lazy("framenet_cogen", "manifold_fm.cli.builders_protein:framenet_cogen")
DATASETS.add_lazy("proteins", "manifold_fm.cli.builders_protein:proteins")
DATASETS.add_lazy("proteins_cogen", "manifold_fm.cli.builders_protein:proteins_cogen")


@SPACES.register("euclidean")
def _euclidean(
    shape: int | list[int] = 2, schedule: str | None = None, prior_std: float = 1.0
) -> Space:
    """R^shape with an affine Gaussian path (``schedule``) and prior N(0, prior_std^2)."""
    from manifold_fm.spaces.euclidean import Euclidean

    return Euclidean(shape if isinstance(shape, int) else tuple(shape), schedule, prior_std)


@MODELS.register("mlp")
def _mlp(
    space: Space,
    hidden: int = 256,
    depth: int = 3,
    time_dim: int = 32,
    n_classes: int = 0,
    tangent: bool | None = None,
    periodic: bool = False,
    features: str = "none",
    octaves: int = 8,
    harmonics: int = 4,
    n_random: int = 64,
    rff_scale: float = 4.0,
) -> nn.Module:
    """TimeMLP sized from the space.

    ``tangent`` projects outputs with ``space.proju`` (default: whenever the space is a
    :class:`ManifoldSpace`; ``true`` on any other space is an error). ``periodic`` feeds
    angles as (cos, sin) (flat torus: a field continuous across 2 pi). ``n_classes > 0``
    adds a ``label`` condition (classes 0..n_classes-1). ``features`` encodes the point
    before the first layer (:mod:`manifold_fm.nn.features`: 'octaves' of embedded
    coordinates, 'harmonics' of angles, 'random' Fourier features), against the spectral
    bias of a plain MLP; the output projection is unchanged.
    """
    from manifold_fm.nn import PeriodicInput, TangentModel, TimeMLP
    from manifold_fm.nn.features import FeatureConfigError, FeatureInput, FourierFeatures

    if tangent and not isinstance(space, ManifoldSpace):
        raise ValueError(
            f"[model] kind='mlp': tangent = true needs a manifold space, got {space!r}"
        )
    if n_classes < 0:
        raise ValueError(f"[model] kind='mlp': n_classes must be >= 0, got {n_classes}")
    if periodic and features != "none":
        raise FeatureConfigError(
            f"[model] kind='mlp': periodic = true with features = {features!r}; use "
            "features = 'harmonics' alone (harmonics = 1 is the periodic encoding)"
        )
    labels = n_classes or None
    net = TimeMLP.for_space(space, hidden=hidden, depth=depth, time_dim=time_dim, n_classes=labels)
    if periodic:
        d = int(space.event_shape[-1])
        net = PeriodicInput(
            TimeMLP(2 * d, d, hidden=hidden, depth=depth, time_dim=time_dim, n_classes=labels)
        )
    if features != "none":
        try:
            enc = FourierFeatures(
                features, math.prod(space.event_shape),
                octaves=octaves, harmonics=harmonics, n_random=n_random, scale=rff_scale,
            )  # fmt: skip
        except FeatureConfigError as err:
            raise FeatureConfigError(f"[model] kind='mlp': {err}") from None
        out_shape = tuple(space.output_shape)
        body = TimeMLP(enc.out_dim, math.prod(out_shape), hidden=hidden, depth=depth,
                       time_dim=time_dim, out_shape=out_shape, n_classes=labels)  # fmt: skip
        net = FeatureInput(enc, body)
    project = isinstance(space, ManifoldSpace) if tangent is None else tangent
    return TangentModel(space, net) if project else net


@DATASETS.register("vmf_mixture")
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


@DATASETS.register("demo")
def _demo(space: Space, n: int = 20000, seed: int = 0) -> Tensor:
    """The training set of ``mfm demo``: ``n`` draws of its five-vMF target on S^2,
    float32 (n, 3), from a generator seeded with ``seed``."""
    from manifold_fm.demo import demo_target

    x = demo_target().sample(n, generator=torch.Generator().manual_seed(seed)).float()
    space.validate(x)
    return x


@DATASETS.register("earth")
def _earth(space: Space, name: str = "volcano", root: str | None = None) -> Tensor:
    """Earth science points on S^2 (volcano, earthquake, flood, fire), float32 (n, 3)."""
    from manifold_fm.data.earth import load_earth

    return load_earth(name, root).float()


@DATASETS.register("rna")
def _rna(space: Space, root: str | None = None) -> Tensor:
    """RNA torsion angles on T^7, float32 (n, 7) in [0, 2 pi)."""
    from manifold_fm.data.torus import load_rna

    return load_rna(root).float()


@DATASETS.register("tensor_file")
def _tensor_file(
    space: Space, path: str = "", url: str = "", sha256: str | None = None, root: str | None = None
) -> Tensor | dict[str, Tensor]:
    """A ``.pt`` file under the data root (``$MFM_DATA``) holding a Tensor or a dict of
    tensors with ``'x1'`` (:func:`manifold_fm.data.files.load_tensor_file`)."""
    from manifold_fm.data.files import DataFile, load_tensor_file

    if not path:
        raise ValueError("[data] kind='tensor_file' needs path = '<file under MFM_DATA>'")
    return load_tensor_file(DataFile(relpath=path, url=url, sha256=sha256), root=root)


@MODELS.register("unet")
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
        in_channels=shape[0], base_channels=base_channels,
        channel_mults=tuple(channel_mults or (1, 2, 2)), num_res_blocks=num_res_blocks,
        attn_heads=attn_heads, groups=groups, dropout=dropout,
        n_classes=n_classes or None, image_size=shape[1:],
    )  # fmt: skip


@DATASETS.register("mnist")
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
