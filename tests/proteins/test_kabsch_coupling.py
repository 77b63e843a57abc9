"""kabsch_ot: aligned translation costs, an optimal permutation, masks, and the Trainer."""

from __future__ import annotations

import itertools

import pytest
import torch

from manifold_fm import SE3
from manifold_fm.couplings import COUPLINGS
from manifold_fm.lie.rotations import random_rotation
from manifold_fm.proteins.kabsch import kabsch_cost, kabsch_ot

N = 10


def test_cost_is_the_aligned_distance_and_rotation_invariant():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, N, 3, generator=g, dtype=torch.float64)
    q = random_rotation(1, generator=g, dtype=torch.float64)[0]
    b = a @ q.T + 0.01 * torch.randn(3, N, 3, generator=g, dtype=torch.float64)
    cost, rot = kabsch_cost(a, b)
    ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    for i, j in itertools.product(range(3), range(3)):
        direct = ((ac[i] @ rot[i, j].T - bc[j]) ** 2).sum()
        assert torch.allclose(cost[i, j], direct, rtol=1e-9, atol=1e-12)
        assert torch.allclose(torch.linalg.det(rot[i, j]), torch.ones((), dtype=torch.float64))
    assert bool((cost.diagonal() < 0.01).all())  # each a_i is a rotated copy of b_i
    r2 = random_rotation(1, generator=g, dtype=torch.float64)[0]
    assert torch.allclose(kabsch_cost(a, b @ r2.T)[0], cost, atol=1e-9)


def test_pairing_is_optimal_and_noise_is_rotated_onto_its_partner():
    space = SE3(N)
    g = torch.Generator().manual_seed(1)
    x0 = space.sample_prior(5, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(5, generator=g, dtype=torch.float64)
    res = kabsch_ot(space, x0, x1)
    assert sorted(res.perm.tolist()) == list(range(5))
    cost, _ = kabsch_cost(x0[..., 3], x1[..., 3])
    best = min(
        sum(float(cost[p[j], j]) for j in range(5)) for p in itertools.permutations(range(5))
    )
    assert abs(float(res.cost) * 5 - best) < 1e-9
    unaligned = ((res.x0[..., 3] - x1[..., 3]) ** 2).sum((-1, -2))
    assert torch.allclose(unaligned, cost[res.perm, torch.arange(5)], atol=1e-9)
    space.validate(res.x0)  # still valid frames


def test_padded_residues_do_not_enter_the_cost():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 4, N, 3, generator=g, dtype=torch.float64)
    mask = torch.ones(4, N, dtype=torch.bool)
    mask[:, 7:] = False
    cost, _ = kabsch_cost(a, b, mask)
    a2 = a.clone()
    a2[:, 7:] += 100.0
    assert torch.allclose(kabsch_cost(a2, b, mask)[0], cost, atol=1e-9)
    assert not torch.allclose(kabsch_cost(a2, b)[0], kabsch_cost(a, b)[0])


def test_registered_and_refuses_points_that_are_not_frames():
    assert COUPLINGS["kabsch_ot"] is kabsch_ot and kabsch_ot.uses_mask
    with pytest.raises(TypeError, match="kabsch_ot pairs SE"):
        kabsch_ot(SE3(N), torch.zeros(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="mask must have shape"):
        x = SE3(N).sample_prior(2)
        kabsch_ot(SE3(N), x, x, mask=torch.ones(2, N + 1, dtype=torch.bool))
