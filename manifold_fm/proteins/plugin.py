"""The protein kinds of ``mfm``: space ``se3_backbone``, models ``framenet`` and
``framenet_cogen``, data ``proteins`` and ``proteins_cogen``.

:func:`register` is this package's ``manifold_fm.plugins`` entry point, so the command
finds these kinds without the core naming them. The co-generation space ``protein_cogen``
(SE3 x amino acids) needs the token package and is registered by that package's plugin; its
data kind ``proteins_cogen`` lives here.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from manifold_fm.proteins.backbone_space import BackboneSE3
from manifold_fm.proteins.cache import find_structure_files, load_proteins, shipped_proteins_dir
from manifold_fm.proteins.cogeneration import cogeneration_loader
from manifold_fm.proteins.dataset import protein_loader
from manifold_fm.proteins.framenet import CoGenerationModel, frame_velocity_model
from manifold_fm.spaces.base import Space
from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["register"]


def register(spaces: Any, models: Any, datasets: Any) -> None:
    """Add the protein kinds to the ``mfm`` registries (:mod:`manifold_fm.cli.registry`)."""
    spaces.register("se3_backbone")(BackboneSE3)
    models.register("framenet")(framenet)
    models.register("framenet_cogen")(framenet_cogen)
    datasets.register("proteins")(proteins)
    datasets.register("proteins_cogen")(proteins_cogen)


def framenet(
    space: Space,
    dim: int = 144,
    edge_dim: int = 64,
    n_layers: int = 5,
    heads: int = 4,
    head_dim: int = 16,
    qk_points: int = 4,
    v_points: int = 8,
    k: int = 16,
    seq_window: int = 2,
) -> nn.Module:
    """FrameNet as a velocity model on ``SE3(N)`` (x1 prediction)."""
    return frame_velocity_model(space, **_sizes(locals()))


def framenet_cogen(
    space: Space,
    dim: int = 144,
    edge_dim: int = 64,
    n_layers: int = 5,
    heads: int = 4,
    head_dim: int = 16,
    qk_points: int = 4,
    v_points: int = 8,
    k: int = 16,
    seq_window: int = 2,
) -> nn.Module:
    """The co-generation model (frames and amino-acid logits) on
    ``ProductSpace(SE3(N), CTMCSpace(20, N))``; the model checks the space it is given."""
    return CoGenerationModel(space, **_sizes(locals()))


_SIZE_KEYS = (
    "dim",
    "edge_dim",
    "n_layers",
    "heads",
    "head_dim",
    "qk_points",
    "v_points",
    "k",
    "seq_window",
)


def _sizes(args: dict) -> dict:
    return {k: args[k] for k in _SIZE_KEYS}


def _chains(
    root: str | None, folder: str, cache: str, n_files: int, min_length: int, max_length: int
):
    src = folder or shipped_proteins_dir(root)
    files = find_structure_files(src)
    if n_files < 0:
        raise ValueError(f"[data] n_files must be >= 0, got {n_files}")
    files = files[:n_files] if n_files else files
    if not files:
        raise FileNotFoundError(f"[data] no structure files under {str(src)!r}")
    return load_proteins(
        files, cache=cache or None, min_length=min_length, max_length=max_length or None
    )


def proteins(
    space: Space,
    root: str | None = None,
    folder: str = "",
    cache: str = "",
    n_files: int = 0,
    batch_size: int = 16,
    crop_length: int = 0,
    min_length: int = 40,
    max_length: int = 0,
    bucket_width: int = 16,
    seed: int = 0,
) -> DataLoader:
    """Cropped, bucketed, masked backbone batches for ``SE3(n_frames=N)``.

    Chains from ``folder`` (default the shipped set ``<root or $MFM_DATA>/proteins/pdb``),
    the first ``n_files`` files when > 0, cached in ``cache`` when given;
    ``crop_length`` 0 means N; ``max_length`` 0 means no limit.
    """
    chains = _chains(root, folder, cache, n_files, min_length, max_length)
    n = int(space.event_shape[0])
    return protein_loader(
        chains,
        n_frames=n,
        batch_size=batch_size,
        crop_length=crop_length or None,
        bucket_width=bucket_width,
        seed=seed,
    )


def proteins_cogen(
    space: Space,
    root: str | None = None,
    folder: str = "",
    cache: str = "",
    n_files: int = 0,
    batch_size: int = 16,
    crop_length: int = 0,
    min_length: int = 40,
    max_length: int = 0,
    bucket_width: int = 16,
    seed: int = 0,
) -> DataLoader:
    """As ``proteins``, as joined (frames, amino acids) points of the co-generation space."""
    if not isinstance(space, GeneralProduct):
        raise ValueError(
            f"[data] kind='proteins_cogen' needs [space] kind='protein_cogen', got {space!r}"
        )
    chains = _chains(root, folder, cache, n_files, min_length, max_length)
    n = int(space.spaces[0].event_shape[0])
    return cogeneration_loader(
        chains,
        n_frames=n,
        batch_size=batch_size,
        crop_length=crop_length or None,
        bucket_width=bucket_width,
        seed=seed,
    )
