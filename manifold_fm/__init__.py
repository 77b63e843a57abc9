"""manifold-fm: flow matching on general geometries.

One :class:`Space` contract (prior, geodesic path, loss, exp-map step, validation) carries
everything that depends on the geometry; trainer, samplers, likelihood and couplings are
written once against it.

Everything a first script needs is one import away::

    from manifold_fm import Sphere, Trainer, TrainConfig, build_mlp, sample, log_prob, check_space

The spaces are imported with the package; :func:`sample`, :func:`log_prob`,
:class:`Trainer`, :class:`TrainConfig`, :func:`check_space` and :func:`build_mlp` (a
space-aware MLP) are looked up on first use
(module ``__getattr__``), so ``import manifold_fm`` stays as cheap as importing the spaces
and never loads geoopt, scipy, torchdiffeq or matplotlib (tests/test_import_light.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from manifold_fm import schedules
from manifold_fm.spaces import (
    SE3,
    SO3,
    Euclidean,
    FlatTorus,
    GeneralProduct,
    GeooptSpace,
    ManifoldProduct,
    ManifoldSpace,
    PathSample,
    ProductSpace,
    Space,
    Sphere,
)

if TYPE_CHECKING:
    from manifold_fm.nn import build_mlp
    from manifold_fm.solvers import log_prob, sample
    from manifold_fm.testing import check_space
    from manifold_fm.train import TrainConfig, Trainer

__version__ = "0.1.0"

#: names served lazily: name -> the module that defines it
_LAZY = {
    "sample": "manifold_fm.solvers",
    "log_prob": "manifold_fm.solvers",
    "Trainer": "manifold_fm.train",
    "TrainConfig": "manifold_fm.train",
    "check_space": "manifold_fm.testing",
    "build_mlp": "manifold_fm.nn",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'manifold_fm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "SE3",
    "SO3",
    "Euclidean",
    "FlatTorus",
    "GeneralProduct",
    "GeooptSpace",
    "ManifoldProduct",
    "ManifoldSpace",
    "PathSample",
    "ProductSpace",
    "Space",
    "Sphere",
    "TrainConfig",
    "Trainer",
    "__version__",
    "build_mlp",
    "check_space",
    "log_prob",
    "sample",
    "schedules",
]
