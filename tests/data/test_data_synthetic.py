"""Known-density mixtures: normalised densities and samplers that match them."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm.data.synthetic import (
    GaussianMixture,
    VMFMixture,
    WrappedNormalMixture,
    default_rd_mixture,
    default_s2_mixture,
    default_t2_mixture,
)
from manifold_fm.spaces import Sphere


@settings(deadline=None, max_examples=10)
@given(kappa=st.floats(0.5, 60.0), seed=st.integers(0, 2**31 - 1))
def test_vmf_sampler_matches_mean_resultant_length(kappa, seed):
    """For one vMF on S^2, E<mu, x> = coth(kappa) - 1/kappa."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(1, 3, generator=g, dtype=torch.float64)
    mix = VMFMixture(mu, [kappa])
    x = mix.sample(20_000, generator=g)
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(20_000, dtype=x.dtype))
    got = float((x @ mix.mus[0]).mean())
    want = 1 / math.tanh(kappa) - 1 / kappa
    assert abs(got - want) < 5 * 0.7 / math.sqrt(20_000) + 1e-3


def test_vmf_density_integrates_to_one():
    g = torch.Generator().manual_seed(0)
    mix = VMFMixture([[0, 0, 1.0], [1.0, 0, 0]], [3.0, 0.7], [0.6, 0.4])
    x = Sphere(2).sample_prior(400_000, generator=g, dtype=torch.float64)
    z = float(mix.log_prob(x).exp().mean()) * 4 * math.pi
    assert abs(z - 1) < 0.01


@settings(deadline=None, max_examples=10)
@given(sigma=st.floats(0.2, 2.0), mu=st.floats(0, 6.28), seed=st.integers(0, 2**31 - 1))
def test_wrapped_normal_sampler_and_normalisation(sigma, mu, seed):
    g = torch.Generator().manual_seed(seed)
    mix = WrappedNormalMixture([[mu]], [sigma])
    x = mix.sample(20_000, generator=g)
    assert bool((x >= 0).all()) and bool((x < 2 * math.pi).all())
    # circular mean resultant length E cos(x - mu) = exp(-sigma^2 / 2)
    got = float(torch.cos(x[:, 0] - mu).mean())
    assert abs(got - math.exp(-(sigma**2) / 2)) < 5 / math.sqrt(20_000)
    grid = (torch.arange(4000, dtype=torch.float64) + 0.5) * (2 * math.pi / 4000)
    z = float(mix.log_prob(grid[:, None]).exp().sum()) * 2 * math.pi / 4000
    assert abs(z - 1) < 1e-6


def test_gaussian_mixture_matches_a_single_gaussian():
    mix = GaussianMixture([[1.0, -1.0]], [2.0])
    x = torch.tensor([[0.0, 0.0], [3.0, 1.0]], dtype=torch.float64)
    want = torch.distributions.MultivariateNormal(
        torch.tensor([1.0, -1.0], dtype=torch.float64), 4 * torch.eye(2, dtype=torch.float64)
    ).log_prob(x)
    torch.testing.assert_close(mix.log_prob(x), want)


@pytest.mark.parametrize("make", [default_s2_mixture, default_t2_mixture, default_rd_mixture])
def test_default_mixture_entropy_is_reproducible_and_finite(make):
    mix = make()
    a = mix.entropy(20_000, torch.Generator().manual_seed(1))
    b = mix.entropy(20_000, torch.Generator().manual_seed(1))
    assert a == b and math.isfinite(a)
    # the entropy is below the uniform (max-entropy) value on compact spaces
    if make is default_s2_mixture:
        assert a < math.log(4 * math.pi)
    if make is default_t2_mixture:
        assert a < 2 * math.log(2 * math.pi)


def test_bad_mixture_parameters_raise():
    with pytest.raises(ValueError, match="kappas"):
        VMFMixture([[0, 0, 1.0]], [-1.0])
    with pytest.raises(ValueError, match="shape"):
        VMFMixture([[0, 1.0]], [1.0])
    with pytest.raises(ValueError, match="sigmas"):
        WrappedNormalMixture([[1.0, 2.0]], [[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture([[0.0], [1.0]], [1.0, 1.0], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="positive"):
        default_s2_mixture().sample(0)


def test_igso3_mixture_is_normalised_and_samples_rotations():
    from manifold_fm.data.synthetic import IGSO3Mixture, default_so3_mixture
    from manifold_fm.lie.rotations import so3_exp
    from manifold_fm.spaces.so3 import SO3

    g = torch.Generator().manual_seed(2)
    mix = IGSO3Mixture(so3_exp(torch.tensor([[0.3, -1.0, 0.2]], dtype=torch.float64)), [0.8])
    x = mix.sample(2000, generator=g)
    SO3().validate(x)
    # samples concentrate around the centre: mean rotation angle to mu well below pi / 2
    rel = mix.mus[0].T @ x
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    assert float(torch.acos(cos).mean()) < 1.5
    u = SO3().sample_prior(100_000, generator=g, dtype=torch.float64)
    z = float(mix.log_prob(u).exp().mean()) * 8 * math.pi**2
    assert abs(z - 1) < 0.03
    assert math.isfinite(default_so3_mixture().entropy(5000, g))
    with pytest.raises(ValueError, match="sigmas"):
        IGSO3Mixture(mix.mus, [0.5, 0.6])
