"""Closed-form checks of the likelihood: exact densities, divergences, normalisation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm import Euclidean, FlatTorus, ProductSpace, Sphere
from manifold_fm.solvers.divergence import DivergenceField
from manifold_fm.solvers.likelihood import LikelihoodError, log_prob
from manifold_fm.spaces.base import ManifoldSpace

F64 = torch.float64


class GaussianFlow:
    """x_t = sigma_t x0 + t m, sigma_t = 1 + t (s - 1): pushes N(0, I) to N(m, s^2 I)."""

    def __init__(self, m: torch.Tensor, s: float) -> None:
        self.m, self.s = m, s

    def __call__(self, x, t):
        sig = 1 + t * (self.s - 1)
        return (self.s - 1) * (x - t[:, None] * self.m) / sig[:, None] + self.m

    def log_density(self, x):
        d = x.shape[-1]
        sq = ((x - self.m) ** 2).sum(-1)
        return -0.5 * sq / self.s**2 - d * math.log(self.s) - 0.5 * d * math.log(2 * math.pi)


class Rotation:
    """v(x) = w x x (rotation about the axis w): divergence-free on S^2."""

    def __init__(self, w):
        self.w = w

    def __call__(self, x, t):
        return torch.linalg.cross(self.w.expand_as(x), x, dim=-1)


class Gradient:
    """v(x) = P_x(a) = a - <a, x> x (gradient of <a, x>): div v = -d <a, x> on S^d."""

    def __init__(self, a):
        self.a = a

    def __call__(self, x, t):
        a = self.a.expand_as(x)
        return a - (a * x).sum(-1, keepdim=True) * x


def torus_field(x, t):
    """v = (sin x1 + t, cos x2): div v = cos x1 - sin x2."""
    return torch.stack([torch.sin(x[:, 0]) + t, torch.cos(x[:, 1])], -1)


class GenericSphere(Sphere):
    """Sphere forced onto the generic (eigen-decomposition) tangent basis."""

    tangent_basis = ManifoldSpace.tangent_basis


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4", "dopri5"])
def test_gaussian_to_gaussian(method):
    g = torch.Generator().manual_seed(0)
    m = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    flow = GaussianFlow(m, 0.5)
    x1 = m + 0.5 * torch.randn(16, 3, generator=g, dtype=F64)
    r = log_prob(flow, Euclidean(3), x1, steps=40, method=method, atol=1e-9, rtol=1e-9)
    tol = {"euler": 5e-2, "midpoint": 1e-3, "rk4": 1e-6, "dopri5": 1e-6}[method]
    torch.testing.assert_close(r.log_prob, flow.log_density(x1), atol=tol, rtol=0)
    torch.testing.assert_close(r.log_prob, r.log_prior + r.delta_logp)
    assert r.nfe > 0


@pytest.mark.parametrize("space", [Sphere(2), FlatTorus(3), Euclidean(2)])
def test_zero_field_gives_log_prior(space):
    x1 = space.sample_prior(10, generator=torch.Generator().manual_seed(1), dtype=F64)
    r = log_prob(lambda x, t: torch.zeros_like(x), space, x1, steps=5)
    torch.testing.assert_close(r.log_prob, space.log_prior(x1))
    torch.testing.assert_close(r.x0, x1)


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2**31 - 1), method=st.sampled_from(["rk4", "euler", "dopri5"]))
def test_rotation_preserves_uniform_density(seed, method):
    g = torch.Generator().manual_seed(seed)
    sp = Sphere(2)
    w = torch.randn(3, generator=g, dtype=F64)
    x1 = sp.sample_prior(8, generator=g, dtype=F64)
    r = log_prob(Rotation(w), sp, x1, steps=20, method=method)
    torch.testing.assert_close(r.log_prob, torch.full_like(r.log_prob, -math.log(4 * math.pi)))
    torch.testing.assert_close(r.delta_logp, torch.zeros_like(r.delta_logp), atol=1e-9, rtol=0)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 4), generic=st.booleans())
def test_sphere_divergence_matches_closed_form(seed, d, generic):
    g = torch.Generator().manual_seed(seed)
    sp = GenericSphere(d) if generic else Sphere(d)
    a = torch.randn(d + 1, generator=g, dtype=F64)
    x = sp.sample_prior(6, generator=g, dtype=F64)
    field = DivergenceField(Gradient(a), sp, 6)
    v, div = field.velocity_and_divergence(x, 0.3)
    torch.testing.assert_close(div, -d * (x @ a))
    torch.testing.assert_close(v, Gradient(a)(x, None))


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31 - 1))
def test_torus_and_product_divergence_match_closed_form(seed):
    g = torch.Generator().manual_seed(seed)
    tor = FlatTorus(2)
    x = tor.sample_prior(5, generator=g, dtype=F64)
    _, div = DivergenceField(torus_field, tor, 5).velocity_and_divergence(x, 0.5)
    want_t = torch.cos(x[:, 0]) - torch.sin(x[:, 1])
    torch.testing.assert_close(div, want_t)
    # product S^2 x T^2: the divergence is the sum of the blocks
    prod = ProductSpace(Sphere(2), tor)
    a = torch.randn(3, generator=g, dtype=F64)
    y = torch.cat([Sphere(2).sample_prior(5, generator=g, dtype=F64), x], -1)

    def both(z, t):
        return torch.cat([Gradient(a)(z[:, :3], t), torus_field(z[:, 3:], t)], -1)

    _, div_p = DivergenceField(both, prod, 5).velocity_and_divergence(y, 0.5)
    torch.testing.assert_close(div_p, -2 * (y[:, :3] @ a) + want_t)


def test_hutchinson_agrees_with_exact_within_mc_error():
    g = torch.Generator().manual_seed(3)
    sp = Sphere(2)
    a = torch.randn(3, generator=g, dtype=F64)
    w = torch.randn(3, generator=g, dtype=F64)

    def field(x, t):
        return Gradient(a)(x, t) + Rotation(w)(x, t) * x[:, :1]

    x1 = sp.sample_prior(200, generator=g, dtype=F64)
    ex = log_prob(field, sp, x1, steps=10, method="midpoint")
    hu = log_prob(
        field,
        sp,
        x1,
        steps=10,
        method="midpoint",
        divergence="hutchinson",
        n_probes=2,
        generator=torch.Generator().manual_seed(4),
    )
    err = hu.log_prob - ex.log_prob
    assert err.abs().max() > 0  # the estimator is really stochastic here
    # unbiased: the mean error is within 4 standard errors of 0
    assert err.mean().abs() < 4 * err.std() / math.sqrt(err.numel()) + 1e-12


def test_dopri5_agrees_with_rk4_on_sphere():
    g = torch.Generator().manual_seed(5)
    sp = Sphere(2)
    a = torch.randn(3, generator=g, dtype=F64)

    def field(x, t):
        return (1 + t[:, None]) * Gradient(a)(x, t)

    x1 = sp.sample_prior(12, generator=g, dtype=F64)
    # geometric RK4 with projection transport is second order on the sphere (measured:
    # error 2.7e-4 at 50 steps, 6.8e-5 at 100), so compare at 100 steps with 2e-4
    r1 = log_prob(field, sp, x1, steps=100, method="rk4")
    r2 = log_prob(field, sp, x1, method="dopri5", atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(r1.log_prob, r2.log_prob, atol=2e-4, rtol=0)
    assert r1.delta_logp.abs().max() > 0.1  # the field really changes the density


def test_float64_option_converts_model_and_points():
    net = torch.nn.Linear(3, 3)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, t):
            return self.net(x)

    x1 = torch.randn(4, 3)
    r = log_prob(M(), Euclidean(3), x1, steps=4, dtype=F64)
    assert r.log_prob.dtype == F64
    assert net.weight.dtype == torch.float32  # the caller's model is left untouched
    # linear field: div = trace(W) at all times, so delta = -trace(W)
    want = torch.full((4,), -float(net.weight.detach().trace()), dtype=F64)
    torch.testing.assert_close(r.delta_logp, want, atol=1e-6, rtol=0)


def test_failed_solve_raises_naming_rows():
    def blowup(x, t):
        return x * torch.where(x[:, :1] > 0, torch.inf, 1.0)

    x1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=F64)
    with pytest.raises(LikelihoodError, match="rows"):
        log_prob(blowup, Euclidean(2), x1, steps=3)


def test_bad_arguments_raise():
    x1 = torch.zeros(2, 2, dtype=F64)
    with pytest.raises(ValueError, match="divergence"):
        log_prob(torus_field, FlatTorus(2), x1, divergence="trace")
    with pytest.raises(ValueError, match="off the manifold"):
        log_prob(torus_field, Sphere(1), x1)
    with pytest.raises(ValueError, match="decrease"):
        log_prob(torus_field, FlatTorus(2), x1, time_grid=[0.0, 1.0])
    with pytest.raises(ValueError, match="n_probes"):
        log_prob(torus_field, FlatTorus(2), x1, divergence="hutchinson", n_probes=0)


def test_batch_size_and_cond_give_same_answer():
    def field(x, t, scale):
        return scale[:, None] * torus_field(x, t)

    x1 = FlatTorus(2).sample_prior(7, generator=torch.Generator().manual_seed(2), dtype=F64)
    scale = torch.linspace(0.5, 2.0, 7, dtype=F64)
    a = log_prob(field, FlatTorus(2), x1, steps=8, cond={"scale": scale})
    b = log_prob(field, FlatTorus(2), x1, steps=8, cond={"scale": scale}, batch_size=3)
    torch.testing.assert_close(a.log_prob, b.log_prob)


@pytest.mark.parametrize("which", ["sphere", "torus"])
def test_trained_model_density_integrates_to_one(which):
    """Monte-Carlo: E_{x ~ uniform}[p(x)] * volume = 1 for a small trained flow."""
    from manifold_fm.data.synthetic import VMFMixture, WrappedNormalMixture
    from manifold_fm.nn import build_mlp
    from manifold_fm.train import TrainConfig, Trainer

    g = torch.Generator().manual_seed(0)
    if which == "sphere":
        sp, mix = Sphere(2), VMFMixture([[1, 0, 0], [0, 1, 0], [0, 0, 1.0]], [10.0, 20.0, 5.0])
    else:
        sp, mix = FlatTorus(2), WrappedNormalMixture([[1.0, 1.0], [4.0, 3.0]], [0.4, 0.7])
    data = mix.sample(4000, generator=g).float()
    torch.manual_seed(0)
    net = build_mlp(sp, hidden=64, depth=3, periodic=isinstance(sp, FlatTorus))
    cfg = TrainConfig(
        steps=300,
        batch_size=256,
        lr=2e-3,
        warmup_steps=0,
        lr_schedule="cosine",
        grad_clip=0.0,
        ema_decay=0.999,
        seed=0,
        device="cpu",
        log_every=100,
        progress=False,
    )
    trainer = Trainer(sp, net, data, cfg)
    trainer.fit()
    model = trainer.ema_model
    xu = sp.sample_prior(2000, generator=g)
    r = log_prob(model, sp, xu, steps=50, method="midpoint")
    ratio = r.log_prob.double().exp() * sp.volume
    se = float(ratio.std()) / math.sqrt(ratio.numel())
    assert abs(float(ratio.mean()) - 1) < 4 * se + 0.02
    # and the model has learned something: it beats the uniform density on data
    test = mix.sample(500, generator=g).float()
    assert (
        float(log_prob(model, sp, test, steps=50, method="midpoint").log_prob.mean())
        > float(-math.log(sp.volume)) + 0.3
    )


def test_poincare_killing_field_is_divergence_free():
    """Hyperbolic translations are isometries: div = 0 only with the volume term."""
    import geoopt

    from manifold_fm.spaces.geoopt import GeooptSpace

    g = torch.Generator().manual_seed(6)
    sp = GeooptSpace(geoopt.PoincareBall(), (3,))
    a = torch.randn(3, generator=g, dtype=F64)

    def killing(x, t):
        sq = (x * x).sum(-1, keepdim=True)
        return 0.5 * (1 + sq) * a - (x @ a)[:, None] * x

    x = 0.8 * sp.projx(torch.rand(16, 3, generator=g, dtype=F64) - 0.5)
    _, div = DivergenceField(killing, sp, 16).velocity_and_divergence(x, 0.2)
    torch.testing.assert_close(div, torch.zeros_like(div), atol=1e-9, rtol=0)
    # inside a product the block term is kept: ball x circle with a zero circle field
    prod = ProductSpace(sp, FlatTorus(1))
    y = torch.cat([x, torch.rand(16, 1, generator=g, dtype=F64)], -1)

    def both(z, t):
        return torch.cat([killing(z[:, :3], t), torch.zeros_like(z[:, 3:])], -1)

    _, div_p = DivergenceField(both, prod, 16).velocity_and_divergence(y, 0.2)
    torch.testing.assert_close(div_p, torch.zeros_like(div_p), atol=1e-9, rtol=0)
    # the chart (Euclidean) divergence alone would be -d <a, x>: the correction matters
    assert float((x @ a).abs().max()) > 0.1


def test_spd_congruence_field_is_divergence_free():
    """X -> e^{tB} X e^{tB^T} is an affine-invariant isometry: div (B X + X B^T) = 0."""
    import geoopt

    from manifold_fm.spaces.geoopt import GeooptSpace

    g = torch.Generator().manual_seed(7)
    sp = GeooptSpace(geoopt.SymmetricPositiveDefinite(), (3, 3))
    b = torch.randn(3, 3, generator=g, dtype=F64)
    m = torch.randn(8, 3, 3, generator=g, dtype=F64)
    x = m @ m.transpose(-1, -2) + 0.5 * torch.eye(3, dtype=F64)

    def congruence(x, t):
        return b @ x + x @ b.T

    _, div = DivergenceField(congruence, sp, 8).velocity_and_divergence(x, 0.0)
    torch.testing.assert_close(div, torch.zeros_like(div), atol=1e-8, rtol=0)


def test_so3_divergence_is_sum_of_left_invariant_derivatives():
    """On SO(3) (body-frame tangents, bi-invariant metric) div w = sum_i E_i(w_i)."""
    from manifold_fm.lie.rotations import so3_exp
    from manifold_fm.spaces.so3 import SO3

    g = torch.Generator().manual_seed(8)
    sp = SO3()
    a = torch.randn(3, 3, generator=g, dtype=F64)

    def field(x, t):
        return torch.tanh((x @ a).diagonal(dim1=-2, dim2=-1)) * (1 + t[:, None])

    x = sp.sample_prior(6, generator=g, dtype=F64)
    _, div = DivergenceField(field, sp, 6).velocity_and_divergence(x, 0.5)
    h, t = 1e-5, torch.full((6,), 0.5, dtype=F64)
    fd = torch.zeros(6, dtype=F64)
    for i in range(3):  # reference only: a finite difference per axis
        e = torch.zeros(3, dtype=F64)
        e[i] = h
        up, dn = field(x @ so3_exp(e), t), field(x @ so3_exp(-e), t)
        fd = fd + (up[:, i] - dn[:, i]) / (2 * h)
    torch.testing.assert_close(div, fd, atol=1e-7, rtol=0)


def test_se3_flow_preserves_total_mass():
    """E_{x ~ p0}[q(x) / p0(x)] = 1 for a flow on SE(3)^2 (importance-weighted check)."""
    from manifold_fm.spaces.se3 import SE3

    g = torch.Generator().manual_seed(9)
    sp = SE3(2, trans_scale=1.0)
    a = torch.randn(3, 3, generator=g, dtype=F64)

    def field(x, t):
        w = 0.4 * torch.tanh((x[..., :3] @ a).diagonal(dim1=-2, dim2=-1))
        v = 0.4 * (torch.sin(x[..., 3]) + t[:, None, None])
        return sp.proju(x, torch.cat([w, v], -1))

    x = sp.sample_prior(1500, generator=g, dtype=F64)
    r = log_prob(field, sp, x, steps=4, method="rk4")
    w = (r.log_prob - sp.log_prior(x)).exp()
    se = float(w.std()) / math.sqrt(w.numel())
    assert abs(float(w.mean()) - 1) < 4 * se + 0.01
    assert float(r.delta_logp.std()) > 0.1  # the flow really reshapes the density
