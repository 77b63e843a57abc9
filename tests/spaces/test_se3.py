"""SE(3)^N frames: layout, path, masked loss/steps, prior density, sampling with a mask."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm import SE3
from manifold_fm.lie import so3_exp
from manifold_fm.solvers import RotationRate, sample

DTYPES = [torch.float32, torch.float64]


def frames(space: SE3, n: int, seed: int, dtype=torch.float64, mask=None):
    return space.sample_prior(
        n, generator=torch.Generator().manual_seed(seed), dtype=dtype, mask=mask
    )


def ragged_mask(n: int, n_frames: int, seed: int) -> torch.Tensor:
    lengths = torch.randint(1, n_frames + 1, (n,), generator=torch.Generator().manual_seed(seed))
    lengths[0] = n_frames
    return torch.arange(n_frames)[None, :] < lengths[:, None]


def test_split_join_and_shapes():
    space = SE3(n_frames=5)
    x = frames(space, 4, 0)
    assert x.shape == (4, 5, 3, 4) and space.output_shape == (5, 6)
    r, t = space.split(x)
    assert r.shape == (4, 5, 3, 3) and t.shape == (4, 5, 3)
    assert torch.equal(space.join(r, t), x)
    space.validate(x)
    assert t.mean(1).abs().max() <= 1e-12  # centred prior
    assert space.dim == 6 * 5 - 3


@pytest.mark.parametrize("dtype", DTYPES)
def test_path_endpoints_and_finite_difference_target(dtype):
    space = SE3(n_frames=6, schedule="cosine")
    x0, x1 = frames(space, 8, 1), frames(space, 8, 2)
    x1 = space.join(space.split(x1)[0], space.split(x1)[1] + 3.0)  # off-centre data
    t = torch.rand(8, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.9 + 0.05
    h = 1e-6
    s0, s1 = space.path(x0, x1, t), space.path(x0, x1, t + h)
    fd = space.logmap(s0.x_t, s1.x_t) / h
    assert (fd - s0.target).abs().max() <= 1e-4
    end = space.path(x0.to(dtype), x1.to(dtype), torch.ones(8, dtype=dtype))
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert (end.x_t - end.x1).abs().max() <= tol
    assert space.split(end.x1)[1].mean(-2).abs().max() <= tol  # data was centred


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 10_000), n_frames=st.integers(2, 7))
def test_mask_zero_target_zero_loss_and_x0_frames(seed, n_frames):
    space = SE3(n_frames=n_frames)
    mask = ragged_mask(5, n_frames, seed)
    x0, x1 = frames(space, 5, seed, mask=mask), frames(space, 5, seed + 1)
    t = torch.rand(5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    s = space.path(x0, x1, t, mask=mask)
    pad = ~mask
    assert torch.equal(s.mask, mask)
    assert bool((s.target[pad] == 0).all())
    assert torch.equal(s.x_t[pad], x0[pad])
    # real residues' translations stay centred along the path
    tr = space.split(s.x_t)[1]
    m = mask[..., None].double()
    assert ((tr * m).sum(1) / m.sum(1)).abs().max() <= 1e-9
    # whatever the model outputs on padded frames does not change the loss
    out = torch.randn(s.target.shape, dtype=torch.float64)
    noisy = out.clone()
    noisy[pad] = 1e3
    assert torch.allclose(space.loss(out, s), space.loss(noisy, s))
    # loss = weighted sum over real residues
    d = (out - s.target) ** 2
    want = (
        (space.rot_weight * d[..., :3].sum(-1) + space.trans_weight * d[..., 3:].sum(-1)) * mask
    ).sum(-1)
    assert torch.allclose(space.loss(out, s), want)


def test_step_keeps_padded_frames_exactly_and_com():
    space = SE3(n_frames=6)
    mask = ragged_mask(4, 6, 5)
    x = frames(space, 4, 6, dtype=torch.float32, mask=mask)
    out = torch.randn(4, 6, 6)
    y = space.step(x, out, 0.3, 0.1, mask=mask)
    assert torch.equal(y[~mask], x[~mask])
    m = mask[..., None].float()
    assert ((space.split(y)[1] * m).sum(1) / m.sum(1)).abs().max() <= 1e-5
    assert space.point_error(y).max() <= 1e-5


class FieldModel(torch.nn.Module):
    """A fixed smooth field that also moves padded frames unless the space stops them."""

    def forward(self, x, t, mask=None):
        _, tr = SE3.split(x)
        w = torch.stack([torch.sin(tr[..., 0]), torch.cos(tr[..., 1]), 0.5 + 0 * tr[..., 2]], -1)
        return torch.cat([w, -0.3 * tr + 1.0], -1)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_sampling_with_mask_keeps_padded_frames_fixed(method):
    space = SE3(n_frames=7)
    policies = [] if method != "euler" else [RotationRate(10.0)]
    mask = ragged_mask(6, 7, 9)
    x0 = frames(space, 6, 10, dtype=torch.float32, mask=mask)
    res = sample(FieldModel(), space, x0, steps=20, method=method, mask=mask, policies=policies)
    assert torch.equal(res.x[~mask], x0[~mask])
    assert not torch.equal(res.x[mask], x0[mask])
    space.validate(res.x)
    m = mask[..., None].float()
    assert ((space.split(res.x)[1] * m).sum(1) / m.sum(1)).abs().max() <= 1e-4


def test_rotation_rate_scales_rotation_step():
    base, fast = SE3(n_frames=3), RotationRate(10.0)
    x = frames(base, 2, 11)
    out = torch.randn(2, 3, 6, dtype=torch.float64) * 0.1
    t, dt = 0.4, 0.01
    y_fast = base.step(x, fast(base, x, torch.full((2,), t, dtype=x.dtype), out), t, dt)
    scaled = out.clone()
    scaled[..., :3] *= 10.0 * (1 - t)
    assert torch.allclose(y_fast, base.step(x, scaled, t, dt), atol=1e-12)
    assert torch.allclose(
        SE3.split(y_fast)[0], SE3.split(x)[0] @ so3_exp(dt * scaled[..., :3]), atol=1e-12
    )


def test_log_prior_formula_and_mask_consistency():
    s = 10.0
    space = SE3(n_frames=5, trans_scale=s)
    x = frames(space, 3, 12)
    lp = space.log_prior(x)
    t = SE3.split(x)[1]
    d = 3 * (5 - 1)
    want = (
        -5 * math.log(8 * math.pi**2)
        - 0.5 * d * math.log(2 * math.pi * s * s)
        - (t * t).sum((-1, -2)) / (2 * s * s)
        - 0.5 * d * math.log(space.trans_weight)  # Riemannian volume of the weighted metric
    )
    assert torch.allclose(lp, want)
    # a padded example scores like the same real frames in a shorter space
    mask = torch.tensor([[True, True, True, False, False]]).expand(3, 5)
    xm = frames(space, 3, 13, mask=mask)
    short = SE3(n_frames=3, trans_scale=s)
    assert torch.allclose(space.log_prior(xm, mask=mask), short.log_prior(xm[:, :3]))
    # not centred: plain isotropic Gaussian
    free = SE3(n_frames=5, centered=False, trans_scale=s)
    g = torch.distributions.Normal(0.0, s)
    want_free = -5 * math.log(8 * math.pi**2) + g.log_prob(t).sum((-1, -2))
    want_free = want_free - 0.5 * 15 * math.log(free.trans_weight)
    assert torch.allclose(free.log_prior(x), want_free.double())


def test_geometry_roundtrips_and_dist():
    space = SE3(n_frames=4, rot_weight=2.0, trans_weight=0.5)
    x, y = frames(space, 5, 14), frames(space, 5, 15)
    v = space.logmap(x, y)
    assert (space.expmap(x, v) - y).abs().max() <= 1e-10
    assert torch.allclose(space.dist(x, y), space.norm(x, v))
    assert torch.allclose(space.dist(x, y), space.dist(y, x))
    amb = space.to_ambient_velocity(x, v)
    assert amb.shape == x.shape
    v_c = space.proju(x, v)
    assert torch.allclose(space.from_ambient_velocity(x, amb), v_c)
    # J_r^{-1}(w) w = w per frame (was: the identity ``transport``)
    assert torch.allclose(space.log_differential(x, y, v), v, atol=1e-12)
    noisy = x + 1e-3 * torch.randn(x.shape, dtype=x.dtype)
    assert space.point_error(space.projx(noisy)).max() <= 1e-12


def test_errors():
    with pytest.raises(ValueError, match="n_frames"):
        SE3(n_frames=0)
    with pytest.raises(ValueError, match="trans_scale"):
        SE3(n_frames=2, trans_scale=-1.0)
    with pytest.raises(ValueError, match="rotation_rate"):
        RotationRate(0.0)
    space = SE3(n_frames=3)
    x = frames(space, 2, 16)
    with pytest.raises(ValueError, match="mask must have shape"):
        space.path(x, x, torch.zeros(2, dtype=x.dtype), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="trailing shape"):
        space.validate(torch.zeros(2, 3, 3, 3))
    bad = x.clone()
    bad[1, 2, 0, 0] += 0.1
    with pytest.raises(ValueError, match="row 1"):
        space.validate(bad)
    with pytest.raises(ValueError, match="output must have"):
        space.step(x, torch.zeros(2, 3, 3), 0.0, 0.1)


def test_adaptive_solver_runs_on_frames():
    space = SE3(n_frames=3)
    x0 = frames(space, 4, 17)
    out = torch.randn(3, 6, dtype=torch.float64) * 0.3
    out[:, 3:] -= out[:, 3:].mean(0)

    def field(x, t):
        return out.expand(x.shape[0], 3, 6)

    res = sample(field, space, x0, method="dopri5", steps=1, atol=1e-9, rtol=1e-9)
    want = space.expmap(x0, out.expand(4, 3, 6))
    assert (res.x - want).abs().max() <= 1e-6
