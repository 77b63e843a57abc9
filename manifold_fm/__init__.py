"""manifold-fm: flow matching on general geometries.

One :class:`Space` contract (prior, geodesic path, loss, exp-map step, validation) carries
everything that depends on the geometry; trainer, samplers, likelihood and couplings are
written once against it.
"""

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

__version__ = "0.1.0"

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
    "__version__",
    "schedules",
]
