"""Geometric samplers: manifold constraint, convergence order, time grids, guidance, errors.

The reference problem is a rigid rotation of S^2, v(x) = omega x x, whose exact flow is the
rotation R(|omega| t) about omega / |omega| (Rodrigues' formula).
"""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm import Euclidean, Space, Sphere
from manifold_fm.solvers import SampleResult, VelocityField, make_time_grid, sample

OMEGA = 2.0 * torch.tensor([0.3, 0.4, math.sqrt(0.75)], dtype=torch.float64)


class RotationField(torch.nn.Module):
    """v(x, t) = omega x x; records the times it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def forward(self, x, t):
        self.times.append(float(t.min()))
        return torch.linalg.cross(OMEGA.to(x.dtype).expand_as(x), x, dim=-1)


def rotate(x0: torch.Tensor, t: float) -> torch.Tensor:
    """Exact flow: R = I + sin(th) K + (1 - cos(th)) K^2, th = |omega| t."""
    k = OMEGA / OMEGA.norm()
    kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
    th = float(OMEGA.norm()) * t
    r = torch.eye(3, dtype=torch.float64) + math.sin(th) * kx + (1 - math.cos(th)) * kx @ kx
    return x0 @ r.T.to(x0.dtype)


def _x0(n=64, dtype=torch.float64, seed=0):
    return Sphere(2).sample_prior(n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_states_stay_on_sphere_float32_after_1000_steps(method):
    space = Sphere(2)
    x0 = _x0(128, torch.float32)
    out = sample(RotationField(), space, x0, steps=1000, method=method)
    assert out.x.dtype == torch.float32
    assert (out.x.norm(dim=-1) - 1).abs().max() < 1e-6
    space.validate(out.x)


def _observed_order(method):
    x0 = _x0()
    exact = rotate(x0, 1.0)
    errs = [
        float(
            (sample(RotationField(), Sphere(2), x0, steps=n, method=method).x - exact)
            .norm(dim=-1)
            .max()
        )
        for n in (10, 20, 40)
    ]
    return errs, math.log2(errs[1] / errs[2])


def test_rk4_converges_at_higher_order_than_euler():
    e_err, e_order = _observed_order("euler")
    r_err, r_order = _observed_order("rk4")
    m_err, m_order = _observed_order("midpoint")
    assert 0.8 < e_order < 1.3  # first order
    assert 1.8 < m_order < 2.3  # second order
    assert r_order > 3.5  # fourth order: Sphere.log_differential is d(log_x): RKMK stages
    assert r_err[-1] < 1e-6 < m_err[-1] < e_err[-1]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sphere_log_differential_is_the_differential_of_log(dtype):
    space = Sphere(3)
    g = torch.Generator().manual_seed(0)
    x = space.sample_prior(32, generator=g, dtype=torch.float64)
    w = space.proju(x, torch.randn(32, 4, generator=g, dtype=torch.float64))
    w = (
        w
        * torch.logspace(-4, 0.4, 32, dtype=torch.float64).unsqueeze(-1)
        / w.norm(dim=-1, keepdim=True)
    )
    y = space.expmap(x, w)  # distances from 1e-4 to 2.5, across the series/direct switch
    v = space.proju(y, torch.randn(32, 4, generator=g, dtype=torch.float64))
    eps = 1e-6
    fd = space.logmap(x, space.expmap(y, eps * v)) - space.logmap(x, space.expmap(y, -eps * v))
    fd = fd / (2 * eps)
    got = space.log_differential(x.to(dtype), y.to(dtype), v.to(dtype)).double()
    tol = 1e-8 if dtype == torch.float64 else 1e-5
    assert (got - fd).abs().max() < tol * max(1.0, float(fd.abs().max()))


def test_dopri5_agrees_with_rk4_and_exact_flow():
    x0 = _x0()
    exact = rotate(x0, 1.0)
    d5 = sample(RotationField(), Sphere(2), x0, method="dopri5", atol=1e-9, rtol=1e-9)
    rk = sample(RotationField(), Sphere(2), x0, steps=200, method="rk4")
    assert (d5.x - exact).norm(dim=-1).max() < 1e-6
    assert (d5.x - rk.x).norm(dim=-1).max() < 1e-3
    assert (d5.x.norm(dim=-1) - 1).abs().max() < 1e-12
    assert d5.nfe > 0


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_grid_starting_at_half_starts_at_half(method):
    x0 = _x0(16)
    model = RotationField()
    out = sample(model, Sphere(2), x0, time_grid=[0.5, 0.75, 1.0], method=method, steps=None)
    assert float(out.times[0]) == 0.5
    assert min(model.times) >= 0.5  # the model never sees t < 0.5
    exact = rotate(x0, 0.5)  # flowing from 0.5 to 1 rotates by half the angle
    tol = {"euler": 0.5, "rk4": 0.1, "dopri5": 1e-4}[method]  # two steps of 0.25
    assert (out.x - exact).norm(dim=-1).max() < tol


def test_trajectory_shapes():
    x0 = _x0(5)
    out = sample(RotationField(), Sphere(2), x0, steps=7, method="midpoint", return_trajectory=True)
    assert isinstance(out, SampleResult)
    assert out.trajectory.shape == (8, 5, 3) and out.times.shape == (8,)
    assert torch.equal(out.trajectory[0], x0) and torch.equal(out.trajectory[-1], out.x)
    assert out.nfe == 7 * 2
    ad = sample(
        RotationField(),
        Sphere(2),
        x0,
        time_grid=[0.0, 0.3, 1.0],
        method="dopri5",
        return_trajectory=True,
    )
    assert ad.trajectory.shape == (3, 5, 3)
    assert sample(RotationField(), Sphere(2), x0, steps=3).trajectory is None
    drawn = sample(RotationField(), Sphere(2), 9, steps=2, generator=torch.Generator())
    assert drawn.x.shape == (9, 3)


@pytest.mark.parametrize(
    "grid",
    [[0.0], [-0.1, 1.0], [0.0, 1.5], [0.0, 0.5, 0.5, 1.0], [0.0, 0.7, 0.3, 1.0]],
)
def test_bad_grids_raise(grid):
    with pytest.raises(ValueError, match="grid"):
        make_time_grid(time_grid=grid)
    with pytest.raises(ValueError):
        sample(RotationField(), Sphere(2), 4, time_grid=grid)


def test_bad_steps_and_methods_raise():
    with pytest.raises(ValueError, match="steps"):
        make_time_grid(steps=0)
    with pytest.raises(ValueError, match="nope"):
        sample(RotationField(), Sphere(2), 4, method="nope")


class CoinSpace(Space):
    """A minimal non-manifold space (one bit per point) for solver dispatch tests."""

    event_shape = torch.Size((1,))

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        return torch.zeros((n, 1), device=device, dtype=dtype or torch.float32)

    def log_prior(self, x):
        return torch.zeros(x.shape[:-1])

    def path(self, x0, x1, t, *, mask=None):
        return PathSample(x_t=x1, target=x1, t=t)

    def loss(self, output, sample):
        return (output - sample.target).pow(2).sum(-1)

    def step(self, x, output, t, dt, *, mask=None, generator=None):
        return (output > 0).to(x.dtype)

    def validate(self, x):
        return None


from manifold_fm.spaces.base import PathSample  # noqa: E402


def test_midpoint_on_non_manifold_space_raises():
    def model(x, t):
        return torch.ones_like(x)

    with pytest.raises(ValueError, match="ManifoldSpace"):
        sample(model, CoinSpace(), 4, steps=2, method="midpoint")
    with pytest.raises(ValueError, match="ManifoldSpace"):
        sample(model, CoinSpace(), 4, steps=2, method="dopri5")
    out = sample(model, CoinSpace(), 4, steps=2, method="euler")
    assert torch.equal(out.x, torch.ones(4, 1))


class ToyConditional(torch.nn.Module):
    """Outputs cond_value when conditioned and uncond_value when the condition is dropped."""

    def forward(self, x, t, label=None, cond_drop=None):
        cond = torch.full_like(x, 3.0) * label.to(x.dtype).unsqueeze(-1)
        uncond = torch.full_like(x, -1.0)
        if cond_drop is None:
            return cond
        return torch.where(cond_drop.unsqueeze(-1), uncond, cond)


@pytest.mark.parametrize("w", [0.0, 1.0, 2.5])
def test_guidance_combines_uncond_and_cond(w):
    space = Euclidean(2)
    x0 = torch.zeros(4, 2)
    label = torch.tensor([1, 1, 2, 2])
    out = sample(ToyConditional(), space, x0, steps=1, cond={"label": label}, guidance_scale=w)
    cond = 3.0 * label.float().unsqueeze(-1).expand(4, 2)
    expected = (1 - w) * torch.full((4, 2), -1.0) + w * cond  # one Euler step of length 1
    assert torch.allclose(out.x, expected)
    assert out.nfe == 2  # a guided evaluation counts twice
    plain = sample(ToyConditional(), space, x0, steps=1, cond={"label": label})
    assert torch.allclose(plain.x, cond) and plain.nfe == 1


def test_guidance_needs_a_condition():
    with pytest.raises(ValueError, match="cond"):
        VelocityField(ToyConditional(), Euclidean(2), None, guidance_scale=2.0)
