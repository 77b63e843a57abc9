"""The rotation-rate policy reaches the rotation parts of a product and nothing else."""

from __future__ import annotations

import pytest
import torch

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, Euclidean, ProductSpace, Sphere
from manifold_fm.solvers import RotationRate


def test_product_scales_only_its_rotation_parts():
    frames, tokens = SE3(n_frames=2), CTMCSpace(4, 3)
    prod = ProductSpace(frames, tokens)
    assert prod.has_rotation and not tokens.has_rotation
    out = torch.randn(5, 12 + 12, dtype=torch.float64)
    factor = torch.linspace(0.5, 2.0, 5, dtype=torch.float64)
    got = prod.scale_rotation(out, factor)
    se3_out, tok_out = prod.split_tangent(got)
    want = frames.scale_rotation(prod.split_tangent(out)[0], factor)
    assert torch.equal(se3_out, want)
    assert torch.equal(tok_out, prod.split_tangent(out)[1])  # logits untouched


def test_manifold_product_of_so3_and_sphere_scales_the_rotation_slice():
    prod = ProductSpace(SO3(), Sphere(2))
    out = torch.randn(4, 6, dtype=torch.float64)
    got = prod.scale_rotation(out, torch.full((4,), 3.0, dtype=torch.float64))
    assert torch.allclose(got[:, :3], 3 * out[:, :3]) and torch.equal(got[:, 3:], out[:, 3:])


def test_a_product_without_rotations_refuses_the_policy():
    prod = ProductSpace(Euclidean(2), Sphere(2))
    with pytest.raises(TypeError, match="no rotation part"):
        RotationRate(10.0).check(prod)
