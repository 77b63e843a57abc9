"""Input features of the MLP: shapes, tangency on S^2, periodicity on T^d, bad configs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm.cli.registry import MODELS
from manifold_fm.keyword_check import ConfigTypeError
from manifold_fm.nn.features import FeatureConfigError, FourierFeatures
from manifold_fm.spaces.sphere import Sphere
from manifold_fm.spaces.torus import FlatTorus


@pytest.mark.parametrize(
    ("kind", "kw", "dim"),
    [
        ("none", {}, 3),
        ("octaves", {"octaves": 8}, 3 + 2 * 8 * 3),
        ("harmonics", {"harmonics": 4}, 2 * 4 * 3),
        ("random", {"n_random": 16}, 3 + 2 * 16),
    ],
)
def test_feature_shapes(kind, kw, dim):
    enc = FourierFeatures(kind, 3, **kw)
    out = enc(torch.randn(5, 3))
    assert enc.out_dim == dim and out.shape == (5, dim)


def test_octave_values_are_nerf_frequencies():
    enc = FourierFeatures("octaves", 1, octaves=3)
    x = torch.tensor([[0.25]])
    ang = math.pi * torch.tensor([1.0, 2.0, 4.0]) * 0.25
    want = torch.cat([x[0], ang.sin(), ang.cos()])
    assert torch.allclose(enc(x)[0], want, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["octaves", "random"]))
def test_sphere_output_is_tangent(seed, kind):
    sp = Sphere(2)
    g = torch.Generator().manual_seed(seed)
    x = sp.projx(sp.sample_prior(16, generator=g).double())
    model = MODELS.build({"kind": "mlp", "hidden": 16, "depth": 2, "features": kind}, sp).double()
    v = model(x, torch.rand(16, generator=g, dtype=torch.float64))
    assert v.shape == (16, 3)
    assert float((v * x).sum(-1).abs().max()) < 1e-10


def test_harmonic_features_make_the_torus_field_periodic():
    sp = FlatTorus(2)
    model = MODELS.build({"kind": "mlp", "hidden": 16, "depth": 2, "features": "harmonics"}, sp)
    x = torch.rand(8, 2) * 2 * math.pi
    t = torch.rand(8)
    shifted = x + 2 * math.pi * torch.tensor([1.0, -1.0])
    assert torch.allclose(model(x, t), model(shifted, t), atol=1e-4)


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"features": "octave"}, "features = 'octave'"),
        ({"features": "octaves", "octaves": 0}, "octaves must be >= 1"),
        ({"features": "random", "rff_scale": -1.0}, "scale must be > 0"),
        ({"features": "harmonics", "periodic": True}, "periodic = true with features"),
    ],
)
def test_broken_feature_config_is_rejected(section, match):
    with pytest.raises(FeatureConfigError, match=match):
        MODELS.build({"kind": "mlp", "hidden": 8, **section}, FlatTorus(2))


def test_feature_value_type_is_checked():
    with pytest.raises(ConfigTypeError, match="octaves"):
        MODELS.build({"kind": "mlp", "features": "octaves", "octaves": "8"}, Sphere(2))
