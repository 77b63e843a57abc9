"""Couplings at scale: blocked exact OT, Sinkhorn with a permutation draw, their options."""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm import Euclidean, Sphere
from manifold_fm.couplings import (
    DEFAULT_BLOCK_SIZE,
    exact_ot,
    get_coupling,
    minibatch_ot,
    sinkhorn,
)
from manifold_fm.couplings.sinkhorn import draw_permutation, sinkhorn_log_plan
from manifold_fm.keyword_check import ConfigKeyError
from manifold_fm.train import TrainConfig, Trainer


def _pair(space, n, seed):
    g = torch.Generator().manual_seed(seed)
    x0 = space.sample_prior(n, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(n, generator=g, dtype=torch.float64) * 0.5 + (
        2.0 if isinstance(space, Euclidean) else 0.0
    )
    return x0, space.projx(x1)


def _is_perm(perm, n):
    return torch.equal(perm.sort().values, torch.arange(n))


@pytest.mark.parametrize("space", [Euclidean(2), Sphere(2)], ids=["R2", "S2"])
def test_blocked_ot_is_a_permutation_between_exact_and_independent(space):
    x0, x1 = _pair(space, 300, 0)
    g = torch.Generator().manual_seed(1)
    blk = minibatch_ot(space, x0, x1, g, block_size=64)
    ex = exact_ot(space, x0, x1)
    assert _is_perm(blk.perm, 300) and torch.equal(blk.x1, x1)
    assert torch.equal(blk.x0, x0[blk.perm])
    pair_cost = float((space.dist(blk.x0, blk.x1) ** 2).mean())
    assert abs(float(blk.cost) - pair_cost) < 1e-10
    independent = float((space.dist(x0, x1) ** 2).mean())
    assert float(ex.cost) - 1e-12 <= float(blk.cost) < independent


def test_blocked_ot_is_exact_up_to_the_block_size():
    space = Sphere(2)
    x0, x1 = _pair(space, 40, 2)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    blk = minibatch_ot(space, x0, x1, g, block_size=40)
    assert torch.equal(blk.perm, exact_ot(space, x0, x1).perm)
    assert torch.equal(g.get_state(), state)  # nothing drawn
    assert get_coupling("ot") is minibatch_ot and DEFAULT_BLOCK_SIZE >= 64


def test_blocked_ot_is_optimal_inside_each_block():
    # with block_size = n / 2, re-solving a block exactly cannot lower its cost
    space = Euclidean(2)
    x0, x1 = _pair(space, 64, 3)
    g = torch.Generator().manual_seed(5)
    blk = minibatch_ot(space, x0, x1, g, block_size=32)
    g = torch.Generator().manual_seed(5)
    torch.randperm(64, generator=g)
    tgt = torch.randperm(64, generator=g)
    for t in tgt.tensor_split(2):
        s = blk.perm[t]
        best = exact_ot(space, x0[s], x1[t])
        assert abs(float(best.cost) - float((space.dist(x0[s], x1[t]) ** 2).mean())) < 1e-10


def test_blocked_ot_and_sinkhorn_are_seeded():
    space = Sphere(2)
    x0, x1 = _pair(space, 200, 4)
    for fn in (lambda g: minibatch_ot(space, x0, x1, g, block_size=50), None):
        fn = fn or (lambda g: sinkhorn(space, x0, x1, g, epsilon=0.05))
        a = fn(torch.Generator().manual_seed(7))
        b = fn(torch.Generator().manual_seed(7))
        c = fn(torch.Generator().manual_seed(8))
        assert torch.equal(a.perm, b.perm) and not torch.equal(a.perm, c.perm)


@pytest.mark.parametrize("space", [Euclidean(2), Sphere(2)], ids=["R2", "S2"])
def test_sinkhorn_small_epsilon_approaches_exact(space):
    x0, x1 = _pair(space, 128, 5)
    ex = float(exact_ot(space, x0, x1).cost)
    g = torch.Generator().manual_seed(0)
    sharp = sinkhorn(space, x0, x1, g, epsilon=0.005, iters=1000, tol=1e-6)
    blurred = sinkhorn(space, x0, x1, g, epsilon=10.0)
    assert _is_perm(sharp.perm, 128) and _is_perm(blurred.perm, 128)
    independent = float((space.dist(x0, x1) ** 2).mean())
    assert float(sharp.cost) < ex + 0.1 * (independent - ex)
    # a near-uniform plan pairs almost at random
    assert float(blurred.cost) > ex + 0.5 * (independent - ex)


def test_sinkhorn_plan_has_uniform_marginals():
    c = torch.rand(50, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = sinkhorn_log_plan(c, 0.05, 5000, 1e-9).exp()
    assert torch.allclose(p.sum(0), torch.full((50,), 1 / 50, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(p.sum(1), torch.full((50,), 1 / 50, dtype=torch.float64), atol=1e-8)


def test_draw_permutation_recovers_a_sharp_plan_and_resolves_collisions():
    n = 30
    target = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    log_plan = torch.full((n, n), -1e4, dtype=torch.float64)
    log_plan[target, torch.arange(n)] = 0.0  # source target[j] -> target j
    perm = draw_permutation(log_plan, torch.Generator().manual_seed(0), rounds=2)
    assert torch.equal(perm, target)
    # every target wants source 0: still a permutation, source 0 used once
    greedy = torch.full((n, n), -1e4, dtype=torch.float64)
    greedy[0] = 0.0
    perm = draw_permutation(greedy, torch.Generator().manual_seed(0), rounds=3)
    assert _is_perm(perm, n) and int((perm == 0).sum()) == 1


def test_coupling_options_are_checked_before_work():
    with pytest.raises(ConfigKeyError, match="did you mean 'block_size'"):
        get_coupling("ot", {"block_sise": 64})
    with pytest.raises(ValueError, match="block_size must be a int > 0"):
        get_coupling("ot", {"block_size": 0})
    with pytest.raises(ValueError, match="epsilon must be a float > 0"):
        get_coupling("sinkhorn", {"epsilon": -1.0})
    with pytest.raises(ValueError, match="epsilon must be a float > 0"):
        get_coupling("sinkhorn", {"epsilon": math.inf})
    with pytest.raises(ConfigKeyError, match="unknown key 'block_size'"):
        TrainConfig(coupling="sinkhorn", coupling_options={"block_size": 4})
    with pytest.raises(TypeError, match="coupling_options must be a table"):
        TrainConfig(coupling="ot", coupling_options=[64])
    cfg = TrainConfig.from_dict({"coupling": "ot", "coupling_options": {"block_size": 16}})
    assert get_coupling(cfg.coupling, cfg.coupling_options).keywords == {"block_size": 16}


@pytest.mark.parametrize(
    "coupling,options", [("ot", {"block_size": 16}), ("sinkhorn", {"epsilon": 0.1})]
)
def test_trainer_runs_with_scalable_couplings(coupling, options):
    space = Sphere(2)
    g = torch.Generator().manual_seed(0)
    x = space.projx(torch.randn(256, 3, generator=g) * 0.2 + torch.tensor([0.0, 0.0, 1.0]))
    model = torch.nn.Sequential(torch.nn.Linear(3, 3))

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x, t):
            return self.net(x)

    cfg = TrainConfig(
        steps=6, batch_size=64, log_every=3, progress=False, warmup_steps=1, coupling=coupling
    )
    cfg.coupling_options = options
    res = Trainer(space, Field(), x, cfg).fit()
    assert len(res.losses) == 2 and all(math.isfinite(v) for v in res.losses)
