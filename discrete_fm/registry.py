"""The kinds discrete_fm adds to the ``mfm`` command: a token space, its denoiser, token data.

manifold_fm knows nothing about this package: it finds :func:`register` through the
``manifold_fm.plugins`` entry point declared in ``pyproject.toml`` and calls it the first
time a config names a kind it does not ship. Registered here:

* space ``ctmc``: :class:`discrete_fm.CTMCSpace` (``vocab_size``, ``length``, ``source``, ...);
* model ``transformer``: :class:`discrete_fm.SequenceTransformer` sized from the space;
* data ``text``: character chunks of the space's length from a corpus of
  :data:`discrete_fm.data.text.TEXT_FILES`, long (n, length);
* data ``msa``: a fixed-length alignment of :data:`discrete_fm.data.msa.MSA_FILES`,
  long (n, length);
* space ``protein_cogen``: ``ProductSpace(BackboneSE3(N), CTMCSpace(20, N))``, backbone
  frames with their amino acids (data ``proteins_cogen``, model ``framenet_cogen``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from manifold_fm.spaces.base import Space

if TYPE_CHECKING:
    from manifold_fm.cli.registry import Registry

__all__ = ["register"]


def _transformer(
    space: Space, dim: int = 128, depth: int = 4, heads: int = 4, dropout: float = 0.0
) -> nn.Module:
    """Bidirectional SequenceTransformer sized from a CTMC space (``for_space``)."""
    from discrete_fm.space import CTMCSpace
    from discrete_fm.transformer import SequenceTransformer

    if not isinstance(space, CTMCSpace):
        raise ValueError(f"[model] kind='transformer' needs [space] kind='ctmc', got {space!r}")
    return SequenceTransformer.for_space(space, dim=dim, depth=depth, heads=heads, dropout=dropout)


def _check_length(space: Space, tokens: Tensor, what: str) -> Tensor:
    if tuple(space.event_shape) != tuple(tokens.shape[1:]):
        raise ValueError(
            f"[data] kind={what!r}: rows have shape {tuple(tokens.shape[1:])}, the space "
            f"expects {tuple(space.event_shape)} (set [space] length to match)"
        )
    return tokens


def _text(
    space: Space, name: str = "tinyshakespeare", split: str = "train", root: str | None = None
) -> Tensor:
    """Character chunks of the space's length from a text corpus, long (n, length)."""
    from discrete_fm.data.text import load_text

    return load_text(name, root).chunks(split, int(space.event_shape[0]))


def _msa(space: Space, name: str = "DHFR", split: str = "train", root: str | None = None) -> Tensor:
    """Rows of an alignment's split as token ids, long (n, length)."""
    from discrete_fm.data.msa import load_msa

    return _check_length(space, load_msa(name, root).split(split), "msa")


def _protein_cogen(
    n_frames: int,
    trans_scale: float = 10.0,
    source: str = "mask",
    aux_atom_weight: float = 0.0,
    aux_pair_weight: float = 0.0,
    aux_t_min: float = 0.75,
    sequence_weight: float = 1.0,
) -> Space:
    """Frames and sequence: ProductSpace(BackboneSE3(n_frames), CTMCSpace(20, n_frames)),
    loss weights (1, ``sequence_weight``)."""
    from discrete_fm.space import CTMCSpace
    from manifold_fm.proteins.backbone_space import BackboneSE3
    from manifold_fm.spaces.product import ProductSpace

    frames = BackboneSE3(
        n_frames,
        trans_scale=trans_scale,
        aux_atom_weight=aux_atom_weight,
        aux_pair_weight=aux_pair_weight,
        aux_t_min=aux_t_min,
    )
    return ProductSpace(frames, CTMCSpace(20, n_frames, source), weights=[1.0, sequence_weight])


def register(spaces: Registry, models: Registry, datasets: Registry) -> None:
    """Add discrete_fm's kinds to the three registries of :mod:`manifold_fm.cli.registry`."""
    spaces.add_lazy("ctmc", "discrete_fm.space:CTMCSpace")
    spaces.register("protein_cogen")(_protein_cogen)
    models.register("transformer")(_transformer)
    datasets.register("text")(_text)
    datasets.register("msa")(_msa)
