"""Stein identity for the geoopt default priors: E_p[<grad log p, v> + div v] = 0.

It holds for every smooth tangent field v exactly when log p is the log density w.r.t. the
Riemannian volume that ``div`` refers to (a wrong Jacobian term breaks it). <grad log p, v>
is the derivative of log p(exp_x(s v)) at s = 0 (metric-free); div v is the trace of the
transported derivative over the space's orthonormal tangent basis plus its chart drift (the
recipe of :mod:`manifold_fm.solvers.divergence`, by central differences here).
"""

import geoopt
import pytest
import torch

from manifold_fm.spaces.geoopt import GeooptSpace

F64 = torch.float64

SPACES = {
    "lorentz": lambda: GeooptSpace(geoopt.Lorentz(k=1.5), (3,)),
    "poincare_c05": lambda: GeooptSpace(geoopt.Stereographic(k=-0.5), (2,)),
    "flat_stereographic": lambda: GeooptSpace(geoopt.Stereographic(), (2,)),
    "sphere_projection": lambda: GeooptSpace(geoopt.SphereProjection(k=1.0), (2,)),
    "scaled_ball": lambda: GeooptSpace(geoopt.Scaled(geoopt.PoincareBall(), 0.5), (2,)),
    "product_spd_lorentz": lambda: GeooptSpace(
        geoopt.ProductManifold((geoopt.SymmetricPositiveDefinite(), (2, 2)), (geoopt.Lorentz(), 3)),
        (7,),
    ),
}


def _stein_terms(space, x, field, perturb=None):
    """<grad log p, v> + div v per point, by central differences (float64, h = 1e-5).

    div v = sum_i <b_i, d/ds T_{y(s) -> x} v(y(s))>_x + log_volume_drift, y(s) = exp_x(s b_i).
    """
    h = 1e-5

    def logp(y):
        return space.log_prior(y) + (0 if perturb is None else perturb(y))

    v = field(x)
    dlogp = (logp(space.expmap(x, h * v)) - logp(space.expmap(x, -h * v))) / (2 * h)
    basis = space.tangent_basis(x)  # (n, dim, *tangent)

    def moved(b, sign):
        y = space.expmap(x, sign * h * b)
        return space.log_differential(x, y, field(y))

    div = sum(space.inner(x, b, (moved(b, 1) - moved(b, -1)) / (2 * h)) for b in basis.unbind(1))
    drift = space.log_volume_drift(x, v)
    return dlogp + div + (0 if drift is None else drift)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_default_prior_satisfies_stein_identity(name):
    space = SPACES[name]()
    g = torch.Generator().manual_seed(5)
    x = space.sample_prior(20_000, generator=g, dtype=F64)
    size = x.shape[-1]
    a = 0.3 * torch.randn(size, size, generator=g, dtype=F64)
    b = 0.5 * torch.randn(size, generator=g, dtype=F64)

    def field(y):  # a smooth tangent field: the projection of an affine one
        return space.proju(y, torch.tanh(y @ a.T + b))

    terms = _stein_terms(space, x, field)
    se = float(terms.std()) / terms.numel() ** 0.5
    assert abs(float(terms.mean())) < 5 * se + 1e-3
    # a deliberately wrong density (log p + a non-constant term) must break the identity
    terms = _stein_terms(space, x, field, lambda y: 2 * torch.tanh(y[..., -1]))
    se = float(terms.std()) / terms.numel() ** 0.5
    assert abs(float(terms.mean())) > 5 * se + 1e-3
