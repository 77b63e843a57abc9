"""Every prior and ground-truth mixture follows the one Prior protocol (sample, log_prob)."""

import geoopt
import pytest
import torch

from manifold_fm import SE3, SO3
from manifold_fm.data.synthetic import (
    default_rd_mixture,
    default_s2_mixture,
    default_so3_mixture,
    default_t2_mixture,
)
from manifold_fm.lie import HaarSO3
from manifold_fm.lie.igso3 import IGSO3
from manifold_fm.priors import Prior
from manifold_fm.spaces.geoopt import GeooptSpace
from manifold_fm.spaces.geoopt.priors import PoincareWrappedNormal

F64 = torch.float64

PRIORS = {
    "igso3": lambda: (IGSO3(0.5), (3, 3)),
    "haar_so3": lambda: (HaarSO3(), (3, 3)),
    "so3_space_uniform": lambda: (SO3().prior, (3, 3)),
    "so3_space_igso3": lambda: (SO3(prior="igso3", sigma=0.5).prior, (3, 3)),
    "vmf_mixture": lambda: (default_s2_mixture(), (3,)),
    "wrapped_normal_mixture": lambda: (default_t2_mixture(), (2,)),
    "gaussian_mixture": lambda: (default_rd_mixture(2), (2,)),
    "igso3_mixture": lambda: (default_so3_mixture(), (3, 3)),
    "geoopt_lorentz": lambda: (GeooptSpace(geoopt.Lorentz(), (3,)).prior, (3,)),
    "geoopt_product": lambda: (
        GeooptSpace(
            geoopt.ProductManifold((geoopt.Sphere(), 3), (geoopt.Lorentz(), 3)), (6,)
        ).prior,
        (6,),
    ),
    "geoopt_scaled": lambda: (GeooptSpace(geoopt.Scaled(geoopt.Sphere(), 2.0), (3,)).prior, (3,)),
}


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_prior_follows_the_protocol(name):
    prior, shape = PRIORS[name]()
    assert isinstance(prior, Prior)
    draw = lambda: prior.sample(5, generator=torch.Generator().manual_seed(4), dtype=F64)  # noqa: E731
    x = draw()
    assert x.shape == (5, *shape) and x.dtype == F64
    torch.testing.assert_close(x, draw(), rtol=0, atol=0)  # the generator alone decides
    lp = prior.log_prob(x)
    assert lp.shape == (5,) and bool(torch.isfinite(lp).all())
    assert (
        prior.sample(2, generator=torch.Generator().manual_seed(0), dtype=torch.float32).dtype
        == torch.float32
    )


def test_mixture_sample_takes_the_generator_by_keyword_only():
    with pytest.raises(TypeError):
        default_s2_mixture().sample(3, torch.Generator().manual_seed(0))


def test_geoopt_space_checks_the_prior_against_the_protocol():
    class OnlySamples:  # a broken prior: no log_prob
        def sample(self, n, *, generator=None, device=None, dtype=None):
            return torch.zeros(n, 2, dtype=dtype)

    ball = geoopt.PoincareBall()
    with pytest.raises(TypeError, match="Prior"):
        GeooptSpace(ball, (2,), prior=OnlySamples())
    good = PoincareWrappedNormal(ball, 2, sigma=0.5)
    assert GeooptSpace(ball, (2,), prior=good).prior is good


@pytest.mark.parametrize(
    ("kwargs", "kind", "text"),
    [
        ({}, HaarSO3, "SO3(schedule=Linear())"),
        (
            {"prior": "igso3", "sigma": 0.5},
            IGSO3,
            "SO3(schedule=Linear(), prior='igso3', sigma=0.5)",
        ),
    ],
)
def test_so3_holds_a_prior_object_and_keeps_its_repr(kwargs, kind, text):
    """The constructor still takes the name; the space holds the Prior and draws through it.

    The repr is what checkpoints store (the resume guard compares it): it is unchanged.
    """
    space = SO3(**kwargs)
    assert isinstance(space.prior, kind) and isinstance(space.prior, Prior)
    assert repr(space) == text
    assert isinstance(SE3(2, **kwargs).so3.prior, kind)
    seed = torch.Generator().manual_seed(3)
    x = space.sample_prior(7, generator=seed, dtype=F64)
    torch.testing.assert_close(
        x, space.prior.sample(7, generator=torch.Generator().manual_seed(3), dtype=F64)
    )
    torch.testing.assert_close(space.log_prior(x), space.prior.log_prob(x))


def test_haar_draws_are_the_old_uniform_draws_and_a_non_prior_is_told_apart():
    from manifold_fm.lie import random_rotation

    got = SO3().sample_prior(5, generator=torch.Generator().manual_seed(0), dtype=F64)
    want = random_rotation(5, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert torch.equal(got, want)  # seeds reproduce the runs made before the change
    assert not isinstance("uniform", Prior)  # what SO3.prior used to be
    with pytest.raises(ValueError, match="prior"):
        SO3(prior="haar")
