"""Couplings: exact minibatch OT with the space's own distance, reproducible, typed errors."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm import Euclidean, FlatTorus, Sphere
from manifold_fm.couplings import get_coupling, independent, minibatch_ot, pairwise_cost

SPACES = {
    "euclid": lambda: Euclidean(2),
    "sphere": lambda: Sphere(2),
    "torus": lambda: FlatTorus(2),
}


def _draw(space, n, seed):
    g = torch.Generator().manual_seed(seed)
    return (
        space.sample_prior(n, generator=g, dtype=torch.float64),
        space.sample_prior(n, generator=g, dtype=torch.float64),
    )


def _mean_cost(space, x0, x1):
    return float((space.dist(x0, x1) ** 2).mean())


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40))
def test_ot_cost_at_most_independent(name, seed, n):
    space = SPACES[name]()
    x0, x1 = _draw(space, n, seed)
    ot = minibatch_ot(space, x0, x1)
    ind = independent(space, x0, x1)
    assert _mean_cost(space, ot.x0, ot.x1) <= _mean_cost(space, ind.x0, ind.x1) + 1e-12
    assert abs(float(ot.cost) - _mean_cost(space, ot.x0, ot.x1)) < 1e-12
    # a permutation: every source point used exactly once, data order unchanged
    assert torch.equal(ot.perm.sort().values, torch.arange(n))
    assert torch.equal(ot.x0, x0[ot.perm]) and torch.equal(ot.x1, x1)


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(deadline=None, max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_ot_equals_brute_force_optimum(name, seed):
    space = SPACES[name]()
    x0, x1 = _draw(space, 6, seed)
    cost = pairwise_cost(space, x0, x1)
    best = min(
        float(cost[list(p), list(range(6))].mean()) for p in itertools.permutations(range(6))
    )
    assert abs(float(minibatch_ot(space, x0, x1).cost) - best) < 1e-12


def test_pairwise_cost_matches_dist():
    space = Sphere(2)
    x0, x1 = _draw(space, 5, 0)
    c = pairwise_cost(space, x0, x1[:3])
    assert c.shape == (5, 3)
    assert torch.allclose(c[4, 2], space.dist(x0[4], x1[2]) ** 2)


def test_torus_ot_uses_wrapped_distance():
    space = FlatTorus(1)
    x0 = torch.tensor([[0.1], [3.0]], dtype=torch.float64)
    x1 = torch.tensor([[3.2], [6.2]], dtype=torch.float64)  # 6.2 is 0.18 from 0.1 around 2 pi
    ot = minibatch_ot(space, x0, x1)
    assert ot.perm.tolist() == [1, 0]  # 3.0 -> 3.2 and 0.1 -> 6.2 (the short way)


def test_seeded_runs_are_bit_reproducible():
    def run():
        space = Sphere(2)
        g = torch.Generator().manual_seed(123)
        x0 = space.sample_prior(64, generator=g)
        x1 = space.sample_prior(64, generator=g)
        return get_coupling("ot")(space, x0, x1, generator=g)

    a, b = run(), run()
    assert torch.equal(a.perm, b.perm) and torch.equal(a.x0, b.x0)
    assert torch.equal(a.cost, b.cost)


def test_lookup_and_errors():
    assert get_coupling("independent") is independent and get_coupling("ot") is minibatch_ot
    assert get_coupling(minibatch_ot) is minibatch_ot
    with pytest.raises(ValueError, match="unknown coupling"):
        get_coupling("sinkhornn")
    space = Sphere(2)
    x0, x1 = _draw(space, 4, 0)
    with pytest.raises(ValueError, match="equal batch sizes"):
        minibatch_ot(space, x0, x1[:3])
    with pytest.raises(TypeError, match="ManifoldSpace"):
        minibatch_ot(object(), x0, x1)
