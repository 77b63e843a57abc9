"""Model assembly from a space and a few sizes: the MLP every benchmark and ``mfm`` use.

:func:`build_mlp` chooses what a :class:`~manifold_fm.nn.TimeMLP` on a given space needs:
input features (Fourier octaves, torus harmonics, random features), periodic inputs on the
torus, and the tangent projection of the outputs on manifold spaces. The ``mfm`` command
registers it as the model kind ``mlp``.
"""

from __future__ import annotations

import math

from torch import nn

from manifold_fm.nn.features import FeatureConfigError, FeatureInput, FourierFeatures
from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP
from manifold_fm.spaces.base import ManifoldSpace, Space

__all__ = ["build_mlp"]


def build_mlp(
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
                features,
                math.prod(space.event_shape),
                octaves=octaves,
                harmonics=harmonics,
                n_random=n_random,
                scale=rff_scale,
            )
        except FeatureConfigError as err:
            raise FeatureConfigError(f"[model] kind='mlp': {err}") from None
        out_shape = tuple(space.output_shape)
        body = TimeMLP(
            enc.out_dim,
            math.prod(out_shape),
            hidden=hidden,
            depth=depth,
            time_dim=time_dim,
            out_shape=out_shape,
            n_classes=labels,
        )
        net = FeatureInput(enc, body)
    project = isinstance(space, ManifoldSpace) if tangent is None else tangent
    return TangentModel(space, net) if project else net
