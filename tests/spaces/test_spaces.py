"""Every continuous space passes check_space, and the edge cases stay finite.

Spaces: Euclidean, Sphere, FlatTorus, ProductSpace, GeooptSpace on Stiefel, PoincareBall
and SPD. Inputs come from hypothesis (seeds of check_space, raw vectors for the edge
cases); the GeooptSpace prior densities are checked against a numerical change of
variables.
"""

from __future__ import annotations

import math

import geoopt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm import Euclidean, FlatTorus, GeooptSpace, ProductSpace, Sphere
from manifold_fm.spaces.geoopt.priors import (
    PoincareWrappedNormal,
    SPDWrappedNormal,
    StiefelUniform,
    log_sinhc,
    stiefel_log_volume,
)
from manifold_fm.testing import check_space

SPACES = {
    "euclidean": lambda: Euclidean(3),
    "euclidean_image": lambda: Euclidean((2, 3)),
    "sphere": lambda: Sphere(2),
    "sphere5_cosine": lambda: Sphere(5, schedule="cosine"),
    "torus": lambda: FlatTorus(3),
    "product": lambda: ProductSpace(Sphere(2), FlatTorus(2)),
    "stiefel": lambda: GeooptSpace(geoopt.Stiefel(canonical=False), (4, 2)),
    "stiefel_canonical": lambda: GeooptSpace(geoopt.Stiefel(), (3, 2)),
    "poincare": lambda: GeooptSpace(geoopt.PoincareBall(c=1.0), (3,)),
    "poincare_c05": lambda: GeooptSpace(geoopt.PoincareBall(c=0.5), (2,), schedule="poly2"),
    "spd": lambda: GeooptSpace(geoopt.SymmetricPositiveDefinite(), (3, 3)),
    "product_geoopt": lambda: ProductSpace(
        Sphere(2),
        GeooptSpace(geoopt.SymmetricPositiveDefinite(), (2, 2)),
        GeooptSpace(geoopt.PoincareBall(), (2,)),
    ),
}
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(SPACES))
@settings(deadline=None, max_examples=4)
@given(seed=st.integers(0, 2**31 - 1))
def test_check_space_passes(name, dtype, seed):
    report = check_space(SPACES[name](), n=32, dtype=dtype, seed=seed)
    assert report.passed
    names = {r.name for r in report.results if r.status == "passed"}
    # the properties every space supports must actually have run
    assert {"prior_valid", "path_on_manifold", "target_finite_difference"} <= names


@pytest.mark.parametrize("name", ["stiefel", "stiefel_canonical"])
def test_stiefel_skips_logmap_properties_with_reason(name):
    report = check_space(SPACES[name](), n=16)
    assert report["exp_log_inverse"].status == "skipped"
    assert "logmap" in report["exp_log_inverse"].reason
    assert "ambient difference" in report["target_finite_difference"].reason
    assert report["log_prior_normalized"].status == "passed"


# -- edge cases: finite values and gradients ---------------------------------------------------
def _detaches_data(space) -> bool:
    """GeooptSpace's eigendecomposition paths (SPD, Stiefel) treat x0, x1 as data."""
    return isinstance(space, GeooptSpace) and space.path_kind in ("spd", "projected")


def _finite_path_and_grads(space, x0, x1, t):
    x0 = x0.clone().requires_grad_(True)
    x1 = x1.clone().requires_grad_(True)
    ps = space.path(x0, x1, t)
    out = torch.zeros_like(ps.target, requires_grad=True)
    loss = space.loss(out, ps).sum() + ps.x_t.sum()
    loss.backward()
    for name, v in [("x_t", ps.x_t), ("target", ps.target), ("loss", loss)]:
        assert torch.isfinite(v).all(), name
    assert out.grad is not None and torch.isfinite(out.grad).all()
    for name, g in [("d/dx0", x0.grad), ("d/dx1", x1.grad)]:
        if _detaches_data(space):
            assert g is None or torch.isfinite(g).all(), name
        else:
            assert g is not None and torch.isfinite(g).all(), name
    return ps


unit3 = st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=3).filter(
    lambda v: sum(a * a for a in v) > 1e-4
)


@settings(deadline=None, max_examples=30)
@given(v=unit3, t=st.floats(0.0, 1.0, exclude_max=True), dtype=st.sampled_from(DTYPES))
def test_sphere_antipodal_finite(v, t, dtype):
    space = Sphere(2)
    x0 = space.projx(torch.tensor([v], dtype=dtype))
    ps = _finite_path_and_grads(space, x0, -x0, torch.tensor([t], dtype=dtype))
    # the antipodal choice is a geodesic of length pi: x_t is at distance pi * t from x0
    d = space.dist(x0, ps.x_t)
    assert torch.allclose(d, torch.tensor([math.pi * t], dtype=dtype), atol=1e-4)
    assert abs(float(space.norm(ps.x_t, ps.target).detach()) - math.pi) < 1e-3


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(deadline=None, max_examples=5)
@given(seed=st.integers(0, 10_000), t=st.floats(0.0, 1.0, exclude_max=True))
def test_equal_endpoints_give_zero_target(name, seed, t):
    space = SPACES[name]()
    g = torch.Generator().manual_seed(seed)
    x0 = space.sample_prior(4, generator=g, dtype=torch.float64)
    ps = _finite_path_and_grads(space, x0, x0, torch.full((4,), t, dtype=torch.float64))
    assert ps.target.abs().max() < 1e-6
    assert (ps.x_t - x0).abs().max() < 1e-6


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("t", [0.0, 0.5, 1 - 1e-7])
def test_time_range_finite(name, t):
    space = SPACES[name]()
    g = torch.Generator().manual_seed(1)
    x0 = space.sample_prior(8, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(8, generator=g, dtype=torch.float64)
    ps = _finite_path_and_grads(space, x0, x1, torch.full((8,), t, dtype=torch.float64))
    # near t = 1 the point reaches x1 (up to 1 - t)
    if t > 0.9:
        assert (ps.x_t - x1).abs().max() < 1e-5


@settings(deadline=None, max_examples=30)
@given(a=st.floats(0.0, 0.5), b=st.floats(0.0, 0.5), t=st.floats(0.0, 1.0, exclude_max=True))
def test_torus_wraps_the_short_way(a, b, t):
    space = FlatTorus(1)
    x0 = torch.tensor([[a]], dtype=torch.float64)
    x1 = torch.tensor([[2 * math.pi - b]], dtype=torch.float64)
    ps = _finite_path_and_grads(space, x0, x1, torch.tensor([t], dtype=torch.float64))
    # the short way goes down through 0: velocity -(a + b), not 2 pi - a - b
    assert torch.allclose(ps.target, torch.tensor([[-(a + b)]], dtype=torch.float64))
    assert ((ps.x_t >= 0) & (ps.x_t < 2 * math.pi)).all()


@pytest.mark.parametrize("name", sorted(SPACES))
def test_validate_names_the_row(name):
    space = SPACES[name]()
    x = space.sample_prior(6, generator=torch.Generator().manual_seed(0))
    x[4] = float("nan")
    with pytest.raises(ValueError, match=r"row 4\b"):
        space.validate(x)
    with pytest.raises(ValueError, match="shape"):
        space.validate(x.reshape(6, -1)[:, :-1])


# -- GeooptSpace specifics -------------------------------------------------------------------
def test_geoopt_space_is_exported_and_checks_arguments():
    import manifold_fm
    import manifold_fm.spaces

    assert manifold_fm.GeooptSpace is GeooptSpace is manifold_fm.spaces.GeooptSpace
    with pytest.raises(TypeError, match=r"geoopt\.Manifold"):
        GeooptSpace(Sphere(2), (3,))
    with pytest.raises(ValueError, match="event_shape"):
        GeooptSpace(geoopt.PoincareBall(), (3, 3))
    with pytest.raises(ValueError, match="k <= n"):
        GeooptSpace(geoopt.Stiefel(), (2, 3))
    with pytest.raises(ValueError, match="square"):
        GeooptSpace(geoopt.SymmetricPositiveDefinite(), (2, 3))
    with pytest.raises(ValueError, match="no default prior"):
        GeooptSpace(geoopt.BirkhoffPolytope(), (3, 3))


def test_log_sinhc_matches_direct_formula():
    a = torch.tensor([0.05, 0.099, 0.1, 0.101, 0.5, 3.0, 30.0], dtype=torch.float64)
    direct = torch.log(torch.sinh(a) / a)  # accurate where sinh(a)/a - 1 is not tiny
    assert torch.allclose(log_sinhc(a), direct, rtol=1e-11, atol=0)
    tiny = torch.tensor([0.0, 1e-6, 1e-4], dtype=torch.float64)
    assert torch.allclose(log_sinhc(tiny), tiny**2 / 6, rtol=1e-7, atol=0)
    big = log_sinhc(torch.tensor([500.0], dtype=torch.float64))
    assert torch.isfinite(big).all() and abs(float(big) - (500 - math.log(1000))) < 1e-9
    a = torch.tensor([0.0, 0.05, 2.0], dtype=torch.float64, requires_grad=True)
    log_sinhc(a).sum().backward()
    assert torch.isfinite(a.grad).all() and a.grad[0] == 0


def test_stiefel_volume_and_haar_moments():
    # V_1(R^n) is the unit sphere S^{n-1}; V_n(R^n) = O(n) has volume 2^n pi^{n(n+1)/4} / ...
    for n in (2, 3, 5):
        sphere_area = 2 * math.pi ** (n / 2) / math.gamma(n / 2)
        assert math.isclose(math.exp(stiefel_log_volume(n, 1)), sphere_area, rel_tol=1e-12)
    # O(2): two circles; rotation by theta moves a 2x2 matrix at Frobenius speed sqrt(2)
    # (Euclidean metric) or speed 1 (canonical metric, which halves |x^T u|^2)
    o2 = 2 * 2 * math.pi
    assert math.isclose(math.exp(stiefel_log_volume(2, 2)), o2 * math.sqrt(2), rel_tol=1e-12)
    assert math.isclose(math.exp(stiefel_log_volume(2, 2, canonical=True)), o2, rel_tol=1e-12)
    # Haar: E[X] = 0 and E[X X^T] = (k/n) I; QR without the sign fix fails the first one
    prior = StiefelUniform(4, 2)
    x = prior.sample(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert x.mean(0).abs().max() < 0.03
    second = (x @ x.transpose(-1, -2)).mean(0)
    assert (second - 0.5 * torch.eye(4, dtype=torch.float64)).abs().max() < 0.02


def _volume_change_of_variables(to_point, metric_sqrt_det, w):
    """log p_vol(x) for x = to_point(w), w ~ N(0, I): log N(w) - log|det J| - log sqrt det G."""
    jac = torch.autograd.functional.jacobian(to_point, w)
    logdet = torch.linalg.slogdet(jac)[1]
    lognormal = -0.5 * (w * w).sum() - 0.5 * w.numel() * math.log(2 * math.pi)
    return lognormal - logdet - metric_sqrt_det(to_point(w))


@pytest.mark.parametrize("c", [1.0, 0.5])
def test_poincare_wrapped_normal_density_is_the_change_of_variables(c):
    ball = geoopt.PoincareBall(c=c)
    c = -float(ball.k)  # geoopt stores c through a float32 parameter (1.0 -> 0.99999996)
    d = 3
    prior = PoincareWrappedNormal(ball, d, sigma=1.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        w = torch.randn(d, generator=g, dtype=torch.float64) * 1.3
        # chart: Euclidean coordinates of the ball; Riemannian volume = lambda_x^d dx;
        # x = expmap0(w / 2) = tanh(sqrt(c) |w| / 2) w / (sqrt(c) |w|), written out here
        sc = math.sqrt(c)

        def to_point(w, sc=sc):
            return torch.tanh(sc * w.norm() / 2) * w / (sc * w.norm())

        def log_lambda_d(x, c=c):
            return d * torch.log(2 / (1 - c * (x * x).sum()))

        ref = _volume_change_of_variables(to_point, log_lambda_d, w)
        got = prior.log_prob(to_point(w).unsqueeze(0))[0]
        # geoopt's curvature-generic artanh/tanh agree with the exact ones to ~1e-8
        assert abs(float(got - ref)) < 1e-6
    # samples: |w| = dist(0, x) is chi-distributed with d dof: E|w|^2 = d sigma^2
    x = prior.sample(20000, generator=g, dtype=torch.float64)
    r2 = ball.dist0(x) ** 2
    assert abs(float(r2.mean()) - d) < 0.1


def test_spd_metric_is_affine_invariant_and_density_is_the_change_of_variables():
    spd = geoopt.SymmetricPositiveDefinite()
    n = 3
    prior = SPDWrappedNormal(n, sigma=1.0)
    g = torch.Generator().manual_seed(0)
    # geoopt's inner is tr(X^-1 U X^-1 V): invariant under X -> A X A^T, U -> A U A^T
    x = prior.sample(1, generator=g, dtype=torch.float64)[0]
    u = prior.coords_to_sym(torch.randn(6, generator=g, dtype=torch.float64))
    a = torch.randn(n, n, generator=g, dtype=torch.float64) + 3 * torch.eye(n, dtype=torch.float64)
    lhs = spd.inner(x, u, u)
    rhs = spd.inner(a @ x @ a.T, a @ u @ a.T, a @ u @ a.T)
    assert abs(float(lhs - rhs)) < 1e-9 * float(lhs.abs())
    iu = torch.triu_indices(n, n, offset=1)

    def coords(s):  # orthonormal (Frobenius) coordinates of a symmetric matrix
        return torch.cat([torch.diagonal(s), math.sqrt(2) * s[iu[0], iu[1]]])

    def to_point(w):
        mu, q = torch.linalg.eigh(prior.coords_to_sym(w))
        return coords((q * torch.exp(mu)) @ q.T)

    def log_sqrt_det_metric(xc):
        # G_ab = tr(X^-1 E_a X^-1 E_b) for the orthonormal basis E_a of Sym(n)
        xm = prior.coords_to_sym(xc)
        xi = torch.linalg.inv(xm)
        basis = prior.coords_to_sym(torch.eye(6, dtype=torch.float64))
        m = xi @ basis @ xi
        gram = torch.einsum("aij,bji->ab", m, basis)
        return 0.5 * torch.linalg.slogdet(gram)[1]

    for _ in range(5):
        w = torch.randn(6, generator=g, dtype=torch.float64)
        ref = _volume_change_of_variables(to_point, log_sqrt_det_metric, w)
        got = prior.log_prob(prior.coords_to_sym(to_point(w)).unsqueeze(0))[0]
        assert abs(float(got - ref)) < 1e-7


def test_geoopt_sampling_stays_on_manifold():
    from manifold_fm.solvers import sample

    for name in ("stiefel", "poincare", "spd"):
        space = SPACES[name]()
        g = torch.Generator().manual_seed(0)
        target = space.sample_prior(16, generator=g)

        def field(x, t, target=target, space=space):
            return space.proju(x, target - x)

        out = sample(field, space, 16, steps=50, method="rk4", generator=g)
        space.validate(out.x)
        assert torch.isfinite(out.x).all()


def test_stiefel_closed_form_velocity_matches_jvp_fallback():
    space = GeooptSpace(geoopt.Stiefel(canonical=False), (5, 3))
    g = torch.Generator().manual_seed(0)
    x0 = space.sample_prior(8, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(8, generator=g, dtype=torch.float64)
    s = torch.rand(8, generator=g, dtype=torch.float64)
    closed = space._interpolate_polar(x0, x1, s)
    generic = space._interpolate_jvp(x0, x1, s)  # torch.func.jvp through geoopt's SVD projx
    assert space.path_kind == "projected"
    assert torch.allclose(closed[0], generic[0], atol=1e-12)
    assert torch.allclose(closed[1], generic[1], atol=1e-11)
