"""The rotation-rate policy reaches the rotation parts of a product and nothing else."""

from __future__ import annotations

import pytest
import torch

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, Euclidean, ProductSpace, Sphere
from manifold_fm.solvers import RotationRate
from manifold_fm.spaces import RotationalSpace


def test_product_scales_only_its_rotation_parts():
    frames, tokens = SE3(n_frames=2), CTMCSpace(4, 3)
    prod = ProductSpace(frames, tokens)
    assert isinstance(prod, RotationalSpace) and not isinstance(tokens, RotationalSpace)
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


def _rotational_zoo():
    from manifold_fm import FlatTorus
    from manifold_fm.proteins import BackboneSE3

    yes = {
        "so3": SO3(),
        "se3": SE3(n_frames=2),
        "backbone_se3": BackboneSE3(n_frames=3),
        "se3_x_tokens": ProductSpace(SE3(n_frames=2), CTMCSpace(4, 3)),
        "so3_x_sphere": ProductSpace(SO3(), Sphere(2)),
        "nested": ProductSpace(ProductSpace(Sphere(2), SO3()), Euclidean(1)),
    }
    no = {
        "euclidean": Euclidean(2),
        "sphere": Sphere(2),
        "torus": FlatTorus(2),
        "tokens": CTMCSpace(4, 3),
        "r2_x_s2": ProductSpace(Euclidean(2), Sphere(2)),
        "tokens_x_r2": ProductSpace(CTMCSpace(4, 3), Euclidean(2)),
    }
    return yes, no


def test_rotational_spaces_are_told_apart_by_the_protocol():
    yes, no = _rotational_zoo()
    for name, space in yes.items():
        assert isinstance(space, RotationalSpace), name
        RotationRate(2.0).check(space)
    for name, space in no.items():
        assert not isinstance(space, RotationalSpace), name
        with pytest.raises(TypeError, match="no rotation part") as err:
            RotationRate(2.0).check(space)
        assert repr(space) in str(err.value)  # the error names the space


def test_rotation_rate_on_a_space_without_rotations_is_refused_before_sampling():
    from manifold_fm.solvers import sample

    calls = []

    def model(x, t):
        calls.append(1)
        return torch.zeros_like(x)

    with pytest.raises(TypeError, match=r"Sphere\(d=2.*no rotation part"):
        sample(model, Sphere(2), 3, steps=2, policies=[RotationRate(2.0)])
    assert not calls


def test_nested_product_scales_only_the_rotation_slice():
    yes, _ = _rotational_zoo()
    prod = yes["nested"]  # (S^2 x SO3) x R^1: outputs [3 sphere | 3 rotation | 1]
    out = torch.randn(4, 7, dtype=torch.float64)
    got = prod.scale_rotation(out, torch.full((4,), 2.0, dtype=torch.float64))
    assert torch.equal(got[:, :3], out[:, :3]) and torch.equal(got[:, 6:], out[:, 6:])
    assert torch.allclose(got[:, 3:6], 2 * out[:, 3:6])


def test_any_space_with_scale_rotation_is_rotational_and_copies_keep_theirs():
    import copy

    class Spin(Euclidean):  # a user space: the protocol is structural
        def scale_rotation(self, output, factor):
            return output * factor[:, None]

    assert isinstance(Spin(3), RotationalSpace)
    prod = ProductSpace(SO3(), Sphere(2))
    twin = copy.deepcopy(prod)
    assert isinstance(twin, RotationalSpace)
    assert twin.scale_rotation.__self__ is twin  # bound to the copy, not the original
