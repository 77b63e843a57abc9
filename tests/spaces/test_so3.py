"""SO(3): rotation maps at every angle, against scipy / e3nn, and the SO3 space contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from manifold_fm import SO3
from manifold_fm.lie import (
    IGSO3,
    hat,
    matrix_to_quat,
    quat_to_matrix,
    quat_to_rotvec,
    random_rotation,
    rotation_angle,
    rotvec_to_quat,
    so3_exp,
    so3_log,
    vee,
)

DTYPES = [torch.float32, torch.float64]
ADVERSARIAL = [0.0, 1e-8, 1e-4, 1e-2, 1.0, math.pi - 0.1, math.pi - 1e-6, math.pi]
TOL_LOG = {torch.float64: 1e-10, torch.float32: 1e-5}


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


axes = st.tuples(*[st.floats(-1, 1) for _ in range(3)]).filter(lambda a: np.linalg.norm(a) > 1e-3)


def rotvecs(angles, dtype, seed=0):
    """Rotation vectors with the given angles along random axes, shape (len(angles), 3)."""
    g = torch.Generator().manual_seed(seed)
    ax = torch.randn(len(angles), 3, generator=g, dtype=torch.float64)
    ax = ax / ax.norm(dim=-1, keepdim=True)
    return (ax * torch.tensor(angles, dtype=torch.float64)[:, None]).to(dtype)


@settings(deadline=None, max_examples=60)
@given(axis=axes, angle=st.floats(0, math.pi - 1e-6))
def test_log_exp_roundtrip_float64(axis, angle):
    w = torch.tensor(unit(np.array(axis)) * angle, dtype=torch.float64)
    assert (so3_log(so3_exp(w)) - w).abs().max() <= 1e-10


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_exp_roundtrip_sweep(dtype):
    top = math.pi - 1e-6
    angles = np.concatenate([np.linspace(0, top, 20001), [0, 1e-8, 1e-4, 1e-2, top]])
    w = rotvecs(angles, dtype)
    err = (so3_log(so3_exp(w)) - w).abs().max()
    assert err <= TOL_LOG[dtype], float(err)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_log_roundtrip_on_matrices_including_pi(dtype):
    r = random_rotation(2000, generator=torch.Generator().manual_seed(1), dtype=dtype)
    n = torch.nn.functional.normalize(torch.randn(50, 3, dtype=dtype), dim=-1)
    r_pi = 2 * n[:, :, None] * n[:, None, :] - torch.eye(3, dtype=dtype)  # angle exactly pi
    r = torch.cat([r, r_pi])
    w = so3_log(r)
    assert bool((w.norm(dim=-1) <= math.pi + 1e-6).all())
    tol = 1e-12 if dtype == torch.float64 else 3e-6
    assert (so3_exp(w) - r).abs().max() <= tol


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_scipy(dtype):
    angles = np.concatenate(
        [np.random.default_rng(0).uniform(0, math.pi - 1e-3, 500), ADVERSARIAL[:-2]]
    )
    w = rotvecs(angles, dtype, seed=3)
    ref = Rotation.from_rotvec(w.double().numpy())
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    assert np.abs(so3_exp(w).double().numpy() - ref.as_matrix()).max() <= tol
    r64 = torch.from_numpy(ref.as_matrix())
    assert np.abs(so3_log(r64).numpy() - ref.as_rotvec()).max() <= 1e-10
    q = matrix_to_quat(r64).numpy()
    assert np.abs(q - ref.as_quat(canonical=True)).max() <= 1e-12
    assert (
        np.abs(quat_to_matrix(torch.from_numpy(ref.as_quat())).numpy() - ref.as_matrix()).max()
        <= 1e-12
    )
    assert np.abs(rotvec_to_quat(w.double()).numpy() - ref.as_quat()).max() <= 1e-12
    assert (quat_to_rotvec(rotvec_to_quat(w.double())) - w.double()).abs().max() <= 1e-12


def test_against_e3nn():
    from e3nn import o3

    w = rotvecs(np.random.default_rng(1).uniform(0, math.pi, 300), torch.float64, seed=4)
    angle = w.norm(dim=-1)
    ref = o3.axis_angle_to_matrix(w / angle[:, None], angle)
    assert (so3_exp(w) - ref).abs().max() <= 1e-12


def test_hat_vee():
    w = torch.randn(10, 3, dtype=torch.float64)
    v = torch.randn(10, 3, dtype=torch.float64)
    assert torch.allclose((hat(w) @ v[..., None])[..., 0], torch.cross(w, v, dim=-1))
    assert torch.equal(vee(hat(w)), w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("angle", ADVERSARIAL)
def test_values_and_gradients_finite_at_adversarial_angles(dtype, angle):
    w = rotvecs([angle] * 8, dtype, seed=5).requires_grad_(True)
    r = so3_exp(w)
    r_ref = so3_exp(w.detach().double()).to(dtype).requires_grad_(True)
    w2 = so3_log(r_ref)
    ang = rotation_angle(r_ref)
    space = SO3()
    x0 = random_rotation(8, generator=torch.Generator().manual_seed(0), dtype=dtype)
    x1 = space.expmap(x0, w)
    sample = space.path(x0, x1, torch.full((8,), 0.3, dtype=dtype))
    out = (
        r.sum()
        + w2.sum()
        + ang.sum()
        + space.loss(torch.zeros_like(w), sample).sum()
        + space.dist(x0, x1).sum()
    )
    assert torch.isfinite(out)
    out.backward()
    assert torch.isfinite(w.grad).all() and torch.isfinite(r_ref.grad).all()


@pytest.mark.parametrize(
    "angle", [1e-8, 1e-4, 0.5, 2.0, math.pi - 0.5, math.pi - 0.2, math.pi - 1e-4]
)
def test_gradients_match_finite_differences(angle):
    w = rotvecs([angle] * 3, torch.float64, seed=6).requires_grad_(True)
    assert torch.autograd.gradcheck(so3_exp, (w,), eps=1e-9 if angle < 1e-3 else 1e-6, atol=1e-6)
    r = so3_exp(w.detach())
    # differentiate log along group directions R exp(e) at e = 0 (stays on one branch)
    e = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def f(e):
        return so3_log(r @ so3_exp(e))

    assert torch.autograd.gradcheck(f, (e,), eps=1e-7 if angle < 1e-3 else 1e-6, atol=1e-5)


def test_no_nan_sweep_random_and_adversarial():
    g = torch.Generator().manual_seed(7)
    for dtype in DTYPES:
        n = 5000
        ang = torch.cat(
            [
                torch.rand(n, generator=g, dtype=torch.float64) * math.pi,
                torch.tensor(ADVERSARIAL * 50, dtype=torch.float64),
            ]
        )
        ax = torch.nn.functional.normalize(
            torch.randn(len(ang), 3, generator=g, dtype=torch.float64), dim=-1
        )
        w = (ax * ang[:, None]).to(dtype).requires_grad_(True)
        r = so3_exp(w)
        w2 = so3_log(r)
        (w2.sum() + rotation_angle(r).sum()).backward()
        assert torch.isfinite(w2).all() and torch.isfinite(w.grad).all()


# -- the SO3 space ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_space_geometry(dtype):
    space = SO3()
    g = torch.Generator().manual_seed(0)
    x = space.sample_prior(64, generator=g, dtype=dtype)
    y = space.sample_prior(64, generator=g, dtype=dtype)
    space.validate(x)
    v = space.logmap(x, y)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert (space.expmap(x, v) - y).abs().max() <= tol
    assert torch.allclose(space.dist(x, y), space.dist(y, x), atol=tol)
    assert torch.allclose(space.dist(x, y), space.norm(x, v), atol=tol)
    assert (space.projx(x) - x).abs().max() <= 10 * tol
    # ambient velocity round trip
    assert torch.allclose(
        space.from_ambient_velocity(x, space.to_ambient_velocity(x, v)), v, atol=tol
    )
    # the geodesic's constant body velocity v = log_x(y), seen at y, pulled back through
    # d(log_x)_y is v itself (J_r^{-1}(v) v = v; was: the identity ``transport``)
    assert torch.allclose(space.log_differential(x, y, v), v, atol=tol)
    assert space.volume == pytest.approx(8 * math.pi**2)
    assert torch.allclose(
        space.log_prior(x), torch.full((64,), -math.log(8 * math.pi**2), dtype=dtype)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_path_target_matches_finite_difference(dtype):
    space = SO3(schedule="cosine")
    g = torch.Generator().manual_seed(2)
    x0 = space.sample_prior(32, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(32, generator=g, dtype=torch.float64)
    t = torch.rand(32, generator=g, dtype=torch.float64) * 0.9 + 0.05
    h = 1e-6
    s0, s1 = space.path(x0, x1, t), space.path(x0, x1, t + h)
    fd = space.logmap(s0.x_t, s1.x_t) / h
    assert (fd - s0.target).abs().max() <= 1e-4
    # the path ends at x1 and starts at x0
    end = space.path(x0.to(dtype), x1.to(dtype), torch.ones(32, dtype=dtype))
    assert (end.x_t - x1.to(dtype)).abs().max() <= (1e-10 if dtype == torch.float64 else 1e-5)


def test_log_differential_is_the_derivative_of_log():
    """d(log_x)_y [v] = d/ds log_x(y Exp(s v)) at s = 0, by central differences."""
    space = SO3()
    g = torch.Generator().manual_seed(7)
    x = space.sample_prior(32, generator=g, dtype=torch.float64)
    w = torch.nn.functional.normalize(torch.randn(32, 3, generator=g, dtype=torch.float64), dim=-1)
    w = w * torch.logspace(-4, math.log10(3.0), 32, dtype=torch.float64).unsqueeze(-1)
    y = space.expmap(x, w)  # angles from 1e-4 to 3, across the series / direct switch
    v = torch.randn(32, 3, generator=g, dtype=torch.float64)
    eps = 1e-6
    fd = (
        space.logmap(x, space.expmap(y, eps * v)) - space.logmap(x, space.expmap(y, -eps * v))
    ) / (2 * eps)
    assert (space.log_differential(x, y, v) - fd).abs().max() < 1e-7
    # a broken derivative (the identity, the old Lie-group ``transport``) is caught
    assert (v - fd).abs().max() > 1e-2


def test_divergence_on_so3_is_unchanged_by_the_skew_first_order_term():
    """J_r^{-1} = I + hat(u) / 2 + O(u^2): the skew term adds nothing to the divergence."""
    from manifold_fm.solvers.divergence import DivergenceField

    space = SO3()
    g = torch.Generator().manual_seed(8)
    x = space.sample_prior(16, generator=g, dtype=torch.float64)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)

    def field(r, t):  # a smooth body-frame field
        return torch.einsum("ij,...j->...i", a, vee_of(r)) + torch.sin(r[..., 0, :])

    def vee_of(r):
        return torch.stack([r[..., 2, 1], r[..., 0, 2], r[..., 1, 0]], -1)

    _, div = DivergenceField(field, space, 16).velocity_and_divergence(x, 0.0)

    class Identity(SO3):  # carries v back unchanged: the left-trivialised identity
        def log_differential(self, x, y, v):
            return v

    _, div_id = DivergenceField(field, Identity(), 16).velocity_and_divergence(x, 0.0)
    torch.testing.assert_close(div, div_id, atol=1e-10, rtol=0)
    assert div.abs().max() > 0.1


def test_step_keeps_on_manifold_float32():
    space = SO3()
    x = space.sample_prior(256, generator=torch.Generator().manual_seed(3))
    w = torch.randn(256, 3, generator=torch.Generator().manual_seed(4))
    for _ in range(2000):
        x = space.step(x, w, 0.0, 0.01)
    assert space.point_error(x).max() <= 1e-5


def test_validate_errors():
    space = SO3()
    with pytest.raises(ValueError, match="trailing shape"):
        space.validate(torch.eye(4))
    bad = torch.eye(3).repeat(3, 1, 1)
    bad[1] = -torch.eye(3)
    with pytest.raises(ValueError, match="row 1"):
        space.validate(bad)
    nan = torch.eye(3).repeat(2, 1, 1)
    nan[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        space.validate(nan)
    with pytest.raises(ValueError, match="prior"):
        SO3(prior="gauss")
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        space.proju(torch.eye(3).repeat(2, 1, 1), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="so3_exp"):
        so3_exp(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="floating"):
        so3_log(torch.zeros(4, 3, 3, dtype=torch.long))


def _ks_angle(theta: np.ndarray, cdf) -> float:
    th = np.sort(theta)
    emp = np.arange(1, len(th) + 1) / len(th)
    return float(np.abs(emp - cdf(th)).max())


def test_haar_prior_angle_law():
    theta = rotation_angle(
        SO3().sample_prior(20000, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ).numpy()
    # Haar angle CDF: (theta - sin theta) / pi; KS 1% critical value ~ 1.63 / sqrt(n)
    assert _ks_angle(theta, lambda t: (t - np.sin(t)) / np.pi) < 1.63 / math.sqrt(20000)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.5])
def test_igso3_density_and_sampler(sigma):
    dist = IGSO3(sigma)
    assert abs(dist.mass - 1) < 1e-6
    # table interpolation vs the series at off-grid angles
    from manifold_fm.lie.igso3 import igso3_series

    th = (torch.arange(4096, dtype=torch.float64) + 0.5) * math.pi / 4096  # grid midpoints
    exact = igso3_series(th, sigma, 2 * dist.l_max)
    f0 = igso3_series(torch.zeros(1, dtype=torch.float64), sigma, 2 * dist.l_max)
    ok = exact > 1e-10 * f0  # the documented range of the table
    err = (dist.log_f(th) - exact.clamp_min(1e-300).log()).abs()
    assert float(err[ok].max()) < 1e-4
    # sampler angle law vs the tabulated CDF
    theta = rotation_angle(
        dist.sample(20000, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    ).numpy()
    grid, cdf = dist._grid.numpy(), dist._cdf.numpy()
    assert _ks_angle(theta, lambda t: np.interp(t, grid, cdf)) < 1.63 / math.sqrt(20000)
    # the density integrates to 1 against the volume: E_uniform[exp(log p)] * 8 pi^2 = 1
    u = random_rotation(200000, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    mc = float(dist.log_prob(u).exp().mean()) * 8 * math.pi**2
    assert abs(mc - 1) < (0.05 if sigma >= 0.5 else 0.3)


def test_igso3_prior_in_space():
    space = SO3(prior="igso3", sigma=0.3)
    x = space.sample_prior(500, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    space.validate(x)
    space.validate(space.random_uniform(5, dtype=torch.float64))
    lp = space.log_prior(x)
    assert torch.isfinite(lp).all()
    # concentrated prior: samples near the identity have higher density than uniform
    assert float(lp.mean()) > -math.log(8 * math.pi**2)
    with pytest.raises(ValueError, match="sigma"):
        SO3(prior="igso3", sigma=0.0)


@pytest.mark.slow
def test_flow_matching_learns_concentrated_rotations():
    """End to end: TimeMLP + SO3 path/loss + geometric midpoint sampler (~6 s on one core)."""
    from manifold_fm.nn.mlp import TimeMLP
    from manifold_fm.solvers import sample

    torch.manual_seed(0)
    space = SO3()
    center = so3_exp(torch.tensor([0.3, -1.0, 2.0]))
    data = IGSO3(0.2)  # median angle ~0.31 rad around `center`; Haar median ~2.3 rad
    model = TimeMLP.for_space(space, hidden=128, depth=3)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(500):
        x1 = center @ data.sample(256)
        ps = space.path(space.sample_prior(256), x1, torch.rand(256))
        loss = space.loss(model(ps.x_t, ps.t), ps).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    res = sample(
        model, space, 500, steps=50, method="midpoint", generator=torch.Generator().manual_seed(1)
    )
    space.validate(res.x)
    d = space.dist(center.expand(500, 3, 3), res.x)
    assert float(d.median()) < 0.6


def test_space_conversions_and_adaptive_solver():
    from manifold_fm.solvers import sample

    space = SO3()
    r = space.sample_prior(16, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    assert (space.from_quat(space.to_quat(r)) - r).abs().max() <= 1e-12
    assert (space.from_rotvec(space.to_rotvec(r)) - r).abs().max() <= 1e-12
    # a constant body velocity w integrates to R0 Exp(w) with the adaptive solver too
    w = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)

    def field(x, t):
        return w.expand(x.shape[0], 3)

    res = sample(field, space, r, method="dopri5", steps=1, atol=1e-9, rtol=1e-9)
    assert (res.x - r @ so3_exp(w)).abs().max() <= 1e-6
    space.validate(res.x)
