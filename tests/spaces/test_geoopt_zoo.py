"""GeooptSpace over geoopt's own manifolds: every one constructs with its default prior and
passes check_space in float32 and float64; dimensions are the known ones; the default
densities integrate to 1 (Monte Carlo in a chart, independent of the priors' samplers);
the manifolds without an exact default say why.
"""

import math

import geoopt
import pytest
import torch

from manifold_fm.spaces.geoopt import GeooptSpace
from manifold_fm.spaces.geoopt.manifolds import NoDefaultPriorError
from manifold_fm.testing import check_space

F64 = torch.float64

# name -> (constructor, known intrinsic dimension)
ZOO = {
    "sphere": (lambda: GeooptSpace(geoopt.Sphere(), (4,)), 3),
    "sphere_exact": (lambda: GeooptSpace(geoopt.SphereExact(), (3,)), 2),
    "sphere_subspace": (
        lambda: GeooptSpace(geoopt.Sphere(intersection=torch.eye(4)[:, :3]), (4,)),
        2,
    ),
    "lorentz_h3": (lambda: GeooptSpace(geoopt.Lorentz(), (4,)), 3),
    "lorentz_k2": (lambda: GeooptSpace(geoopt.Lorentz(k=2.0), (3,)), 2),
    "stereographic_flat": (lambda: GeooptSpace(geoopt.Stereographic(), (3,)), 3),
    "stereographic_neg": (lambda: GeooptSpace(geoopt.Stereographic(k=-0.5), (2,)), 2),
    "stereographic_exact": (lambda: GeooptSpace(geoopt.StereographicExact(k=-1.0), (2,)), 2),
    "sphere_projection": (lambda: GeooptSpace(geoopt.SphereProjection(k=1.0), (2,)), 2),
    "sphere_projection_exact": (
        lambda: GeooptSpace(geoopt.SphereProjectionExact(k=0.5), (3,)),
        3,
    ),
    "poincare_exact": (lambda: GeooptSpace(geoopt.PoincareBallExact(), (2,)), 2),
    "poincare": (lambda: GeooptSpace(geoopt.PoincareBall(c=1.0), (3,)), 3),
    "euclidean": (lambda: GeooptSpace(geoopt.Euclidean(ndim=1), (3,)), 3),
    "stiefel": (lambda: GeooptSpace(geoopt.Stiefel(canonical=False), (4, 2)), 5),
    "stiefel_canonical": (lambda: GeooptSpace(geoopt.Stiefel(), (3, 2)), 3),
    "euclidean_stiefel_exact": (lambda: GeooptSpace(geoopt.EuclideanStiefelExact(), (4, 2)), 5),
    "spd": (lambda: GeooptSpace(geoopt.SymmetricPositiveDefinite(), (3, 3)), 6),
    "product": (
        lambda: GeooptSpace(
            geoopt.ProductManifold((geoopt.Sphere(), 3), (geoopt.PoincareBall(), 2)), (5,)
        ),
        4,
    ),
    "product_spd_lorentz": (
        lambda: GeooptSpace(
            geoopt.ProductManifold(
                (geoopt.SymmetricPositiveDefinite(), (2, 2)), (geoopt.Lorentz(), 3)
            ),
            (7,),
        ),
        5,
    ),
    "product_compact": (
        lambda: GeooptSpace(
            geoopt.ProductManifold((geoopt.Sphere(), 3), (geoopt.SphereProjection(), 2)), (5,)
        ),
        4,
    ),
    "stereographic_product": (
        lambda: GeooptSpace(
            geoopt.StereographicProductManifold(
                (geoopt.PoincareBall(), 2), (geoopt.SphereProjection(), 2)
            ),
            (4,),
        ),
        4,
    ),
    "scaled_sphere": (lambda: GeooptSpace(geoopt.Scaled(geoopt.Sphere(), 2.0), (3,)), 2),
    "scaled_ball": (lambda: GeooptSpace(geoopt.Scaled(geoopt.PoincareBall(), 0.5), (2,)), 2),
    "scaled_spd": (
        lambda: GeooptSpace(geoopt.Scaled(geoopt.SymmetricPositiveDefinite(), 1.5), (2, 2)),
        3,
    ),
}


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_passes_check_space(name, dtype):
    report = check_space(ZOO[name][0](), n=32, dtype=dtype, raise_on_fail=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_dim_is_known_and_the_tangent_rank(name):
    space, want = ZOO[name][0](), ZOO[name][1]
    assert space.dim == want
    # rank of the projected ambient basis under the space's metric = dim
    x = space.sample_prior(3, generator=torch.Generator().manual_seed(0), dtype=F64)
    tshape = tuple(space.tangent_shape)
    big = math.prod(tshape)
    eye = torch.eye(big, dtype=F64).reshape(big, *tshape)
    for xi in x:
        p = space.proju(xi.expand(big, *space.event_shape), eye)
        xg = xi.expand(big, big, *space.event_shape)
        gram = space.inner(xg, p.unsqueeze(1), p.unsqueeze(0))
        ev = torch.linalg.eigvalsh(0.5 * (gram + gram.T))
        assert int((ev > 1e-8 * ev.max()).sum()) == want


def test_lorentz_h3_dim_and_density_against_the_hyperboloid_chart():
    """H^3 in R^4 has dim 3; its prior integrates to 1 over the chart x_s -> (x_0, x_s).

    Chart x_0 = sqrt(K + |x_s|^2): the induced metric |dx_s|^2 - (x_s . dx_s)^2 / x_0^2 has
    sqrt(det) = sqrt(K) / x_0, so int p dvol = E_q[p(x) sqrt(K) / (x_0 q(x_s))] for any
    proposal q on R^d (here N(0, 2^2 I), wider than the prior).
    """
    for k, d in ((1.0, 3), (2.0, 2)):
        space = GeooptSpace(geoopt.Lorentz(k=k), (d + 1,))
        assert space.dim == d
        g = torch.Generator().manual_seed(1)
        s = 2.0
        xs = s * torch.randn(400_000, d, generator=g, dtype=F64)
        x0 = torch.sqrt(k + (xs * xs).sum(-1, keepdim=True))
        x = torch.cat([x0, xs], dim=-1)
        space.validate(x)
        log_q = -0.5 * (xs * xs).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
        w = torch.exp(space.log_prior(x) + 0.5 * math.log(k) - x0.squeeze(-1).log() - log_q)
        assert abs(float(w.mean()) - 1) < 5 * float(w.std()) / math.sqrt(w.numel()) + 1e-3


@pytest.mark.parametrize(
    "manifold,d",
    [
        (geoopt.Stereographic(), 2),
        (geoopt.Stereographic(k=-0.5), 2),
        (geoopt.SphereProjection(k=1.0), 2),
        (geoopt.SphereProjection(k=0.5), 3),
        (geoopt.Scaled(geoopt.PoincareBall(), 0.5), 2),
    ],
)
def test_stereographic_defaults_integrate_to_one_over_the_chart(manifold, d):
    """int p dvol = E_q[p(x) (s lambda(x))^d / q(x)], lambda = 2 / (1 + k |x|^2), s the scale.

    q: N(0, r^2 I) on R^d, truncated to the model's ball |x| < 1/sqrt(-k) where k < 0; for
    k > 0 (whole R^d, lambda^d ~ |x|^(-2d)) a multivariate Cauchy, whose tails are heavier,
    density Gamma((d+1)/2) / (pi^((d+1)/2) r^d) (1 + |x/r|^2)^(-(d+1)/2).
    """
    space = GeooptSpace(manifold, (d,))
    base = manifold.base if isinstance(manifold, geoopt.Scaled) else manifold
    k = float(base.k)
    scale = float(manifold.scale) if isinstance(manifold, geoopt.Scaled) else 1.0
    g = torch.Generator().manual_seed(2)
    m = 400_000
    if k > 0:
        r = 1 / math.sqrt(k)
        x = r * torch.randn(m, d, generator=g, dtype=F64)
        x = x / torch.randn(m, 1, generator=g, dtype=F64).abs()
        sq = (x * x).sum(-1)
        log_q = (
            math.lgamma((d + 1) / 2)
            - 0.5 * (d + 1) * math.log(math.pi)
            - d * math.log(r)
            - 0.5 * (d + 1) * torch.log1p(sq / r**2)
        )
    else:
        r = 0.6 / math.sqrt(-k) if k < 0 else 1.5
        x = r * torch.randn(m, d, generator=g, dtype=F64)
        sq = (x * x).sum(-1)
        log_q = -0.5 * sq / r**2 - d * math.log(r) - 0.5 * d * math.log(2 * math.pi)
    inside = (1 + k * sq) > 0
    lam = 2 / (1 + k * sq)
    lp = space.log_prior(torch.where(inside.unsqueeze(-1), x, torch.zeros_like(x)))
    w = torch.where(inside, torch.exp(lp + d * lam.abs().log() + d * math.log(scale) - log_q), 0)
    assert abs(float(w.mean()) - 1) < 5 * float(w.std()) / math.sqrt(m) + 2e-3


def test_compact_defaults_volume_matches_known_values():
    # S^2 of radius 2 (Scaled sphere): 16 pi; SphereProjection(k): sphere of radius 1/sqrt k
    assert math.isclose(ZOO["scaled_sphere"][0]().volume, 16 * math.pi, rel_tol=1e-6)
    sp = GeooptSpace(geoopt.SphereProjection(k=0.25), (2,))
    assert math.isclose(sp.volume, 4 * math.pi * 4, rel_tol=1e-6)
    assert math.isclose(ZOO["sphere"][0]().volume, 2 * math.pi**2, rel_tol=1e-12)


@pytest.mark.parametrize(
    "manifold,shape,why",
    [
        (geoopt.BirkhoffPolytope(), (3, 3), "no exact density is known"),
        (geoopt.UpperHalf(), (2, 2), "Sp\\(2n, R\\)/U\\(n\\)"),
        (geoopt.BoundedDomain(), (2, 2), "Sp\\(2n, R\\)/U\\(n\\)"),
    ],
)
def test_manifolds_without_a_default_say_why(manifold, shape, why):
    with pytest.raises(NoDefaultPriorError, match=why) as info:
        GeooptSpace(manifold, shape)
    assert type(manifold).__name__ in str(info.value)


def test_geoopt_sphere_maps_are_exact_for_close_points():
    """geoopt's clamped acos gives dist ~4.5e-4 for points 1e-6 apart; ours is exact."""
    space = GeooptSpace(geoopt.Sphere(), (3,))
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=F64)
    v = torch.tensor([[0.0, 1e-6, 0.0]], dtype=F64)
    y = space.expmap(x, v)
    assert abs(float(space.dist(x, y)) - 1e-6) < 1e-15
    torch.testing.assert_close(space.logmap(x, y), v, atol=1e-15, rtol=1e-9)


def test_scaled_metric_scales_distances_and_keeps_velocities():
    plain = GeooptSpace(geoopt.PoincareBall(), (2,))
    scaled = GeooptSpace(geoopt.Scaled(geoopt.PoincareBall(), 3.0), (2,))
    g = torch.Generator().manual_seed(3)
    x, y = (
        plain.sample_prior(4, generator=g, dtype=F64),
        plain.sample_prior(4, generator=g, dtype=F64),
    )
    torch.testing.assert_close(scaled.dist(x, y), 3 * plain.dist(x, y))
    torch.testing.assert_close(scaled.logmap(x, y), plain.logmap(x, y))
    torch.testing.assert_close(scaled.log_prior(x), plain.log_prior(x) - 2 * math.log(3.0))


def test_products_with_scaled_parts_are_refused():
    m = geoopt.ProductManifold((geoopt.Scaled(geoopt.Sphere(), 2.0), 3), (geoopt.Sphere(), 3))
    with pytest.raises(ValueError, match="Scaled"):
        GeooptSpace(m, (6,))
    with pytest.raises(ValueError, match=r"\(6,\)"):
        GeooptSpace(geoopt.ProductManifold((geoopt.Sphere(), 3), (geoopt.Sphere(), 3)), (5,))
    with pytest.raises(ValueError, match="d >= 1"):
        GeooptSpace(geoopt.Lorentz(), (1,))
