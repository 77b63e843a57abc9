"""Spaces: the geometry-dependent half of flow matching (see :mod:`manifold_fm.spaces.base`)."""

from manifold_fm.spaces.base import ManifoldSpace, PathSample, Space
from manifold_fm.spaces.euclidean import Euclidean
from manifold_fm.spaces.geoopt import GeooptSpace
from manifold_fm.spaces.product import GeneralProduct, ManifoldProduct, ProductSpace
from manifold_fm.spaces.rotational import RotationalSpace
from manifold_fm.spaces.se3 import SE3
from manifold_fm.spaces.so3 import SO3
from manifold_fm.spaces.sphere import Sphere
from manifold_fm.spaces.torus import FlatTorus

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
    "RotationalSpace",
    "Space",
    "Sphere",
]
