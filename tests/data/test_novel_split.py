"""novel_mask: test points with no training point within a geodesic radius."""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm.data.splits import novel_mask
from manifold_fm.spaces.sphere import Sphere
from manifold_fm.spaces.torus import FlatTorus


def _on_circle(angles: list[float]) -> torch.Tensor:
    a = torch.tensor(angles, dtype=torch.float64)
    return torch.stack([a.cos(), a.sin(), torch.zeros_like(a)], -1)


def test_sphere_radius_is_a_great_circle_angle():
    train = _on_circle([0.0, 1.0])
    test = _on_circle([0.0, 1.0 + 5e-4, 1.0 + 2e-3, 2.5])
    assert novel_mask(Sphere(2), train, test).tolist() == [False, False, True, True]


def test_torus_distance_wraps_the_seam():
    train = torch.tensor([[0.0001, 3.0]], dtype=torch.float64)
    test = torch.tensor([[2 * math.pi - 0.0002, 3.0], [0.0001, 3.01]], dtype=torch.float64)
    assert novel_mask(FlatTorus(2), train, test).tolist() == [False, True]


def test_bad_radius_and_shapes_are_rejected():
    x = _on_circle([0.0, 1.0])
    with pytest.raises(ValueError, match="radius must be > 0"):
        novel_mask(Sphere(2), x, x, radius=0.0)
    with pytest.raises(ValueError, match="points differ"):
        novel_mask(Sphere(2), x, x[:, :2])
