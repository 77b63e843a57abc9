"""ManifoldSpace.step = retract(exp_x(dt proju(x, v))): geometry only, masks handled once."""

from __future__ import annotations

import inspect

import pytest
import torch

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, Euclidean, FlatTorus, Sphere
from manifold_fm.solvers import RotationRate, sample


class _CountingSphere(Sphere):
    def __init__(self) -> None:
        super().__init__(2)
        self.retracts = 0

    def retract(self, x):
        self.retracts += 1
        return super().retract(x)


def test_step_goes_through_the_retract_hook():
    sp = _CountingSphere()
    x = sp.sample_prior(4, generator=torch.Generator().manual_seed(0))
    v = sp.proju(x, torch.randn(4, 3))
    y = sp.step(x, v, 0.0, 0.1)
    assert sp.retracts == 1
    assert torch.allclose(y, sp.projx(sp.expmap(x, 0.1 * v)))


class _MaskedPlane(Euclidean):
    mask_ndim = 1

    def __init__(self) -> None:
        super().__init__((5, 2))


def test_padded_positions_stay_bit_for_bit_on_any_masked_manifold():
    sp = _MaskedPlane()
    x = torch.randn(3, 5, 2)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    y = sp.step(x, torch.ones(3, 5, 2), 0.0, 0.5, mask=mask)
    assert torch.equal(y[~mask], x[~mask])
    assert torch.equal(y[mask], x[mask] + 0.5)


def test_se3_rotation_rate_is_a_policy_not_a_space_option():
    with pytest.raises(TypeError, match="RotationRate"):
        SE3(n_frames=2, rotation_rate=2.0)
    calls = []

    def model(x, t):
        calls.append(1)
        return torch.zeros_like(x)

    with pytest.raises(TypeError, match="rotation"):
        sample(model, Sphere(2), 3, steps=2, policies=[RotationRate(2.0)])
    assert not calls


def test_so3_step_is_exp_then_polish():
    sp = SO3()
    r = sp.sample_prior(4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w = torch.randn(4, 3, dtype=torch.float64)
    y = sp.step(r, w, 0.0, 0.2)
    assert torch.equal(y, sp.retract(sp.expmap(r, 0.2 * w)))
    assert float(sp.point_error(y).max()) < 1e-12


@pytest.mark.parametrize(
    "space",
    [Euclidean(2), Sphere(2), FlatTorus(2), SO3(), SE3(n_frames=2), CTMCSpace(4, 3)],
    ids=repr,
)
def test_every_space_path_takes_a_generator(space):
    assert "generator" in inspect.signature(space.path).parameters
    g = torch.Generator().manual_seed(0)
    if isinstance(space, CTMCSpace):
        x0, x1 = space.sample_prior(8), torch.randint(0, 4, (8, 3), generator=g)
    else:
        x0, x1 = space.sample_prior(8, generator=g), space.sample_prior(8, generator=g)
    t = torch.rand(8, generator=g)
    a = space.path(x0, x1, t, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)  # the global RNG must not matter
    b = space.path(x0, x1, t, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.x_t, b.x_t)
