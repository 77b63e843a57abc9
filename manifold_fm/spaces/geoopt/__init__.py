"""Any geoopt manifold as a :class:`~manifold_fm.spaces.base.ManifoldSpace`.

* :mod:`.space`: :class:`GeooptSpace`, the wrapper (geometry delegated to geoopt, flow
  matching's prior, path and validation on top);
* :mod:`.manifolds`: what the wrapper needs to know about each geoopt manifold (dimension,
  default prior, exact uniform sampler, path strategy, chart corrections);
* :mod:`.maps`: accurate exp/log/dist where geoopt's clamped ones lose precision;
* :mod:`.priors`: the default priors, with exact densities.
"""

from manifold_fm.spaces.geoopt.space import GeooptSpace

__all__ = ["GeooptSpace"]
