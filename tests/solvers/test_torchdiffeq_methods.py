"""The torchdiffeq method tables match torchdiffeq's own, and fixed-grid methods get a grid.

torchdiffeq's fixed-grid solvers (heun2, heun3, the Adams ones) step once per interval of
the times they are given: handed only the two end times they take one step. The sampler
and the likelihood must give them the whole grid. (explicit_adams is left out of the
convergence checks: torchdiffeq runs it up to order 11, unstable on fine grids.)
"""

from __future__ import annotations

import math

import pytest
import torch
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.solvers import AdaptiveStepsizeODESolver, FixedGridODESolver

from manifold_fm import Euclidean, Sphere
from manifold_fm.solvers import (
    FIXED_STEP_METHODS,
    TORCHDIFFEQ_ADAPTIVE,
    TORCHDIFFEQ_FIXED,
    TORCHDIFFEQ_METHODS,
    log_prob,
    sample,
    sampling_methods,
)

F64 = torch.float64
OMEGA = torch.tensor([0.6, 0.8, 1.5], dtype=F64)


def _table_errors(adaptive: tuple[str, ...], fixed: tuple[str, ...]) -> list[str]:
    """What is wrong with a pair of method tables against torchdiffeq's SOLVERS."""
    errors = []
    for name in adaptive:
        if name not in SOLVERS or not issubclass(SOLVERS[name], AdaptiveStepsizeODESolver):
            errors.append(f"{name} listed adaptive")
    for name in fixed:
        if name not in SOLVERS or not issubclass(SOLVERS[name], FixedGridODESolver):
            errors.append(f"{name} listed fixed-grid")
    for name, cls in SOLVERS.items():
        kind = issubclass(cls, (AdaptiveStepsizeODESolver, FixedGridODESolver))
        if kind and name not in adaptive and name not in fixed:
            errors.append(f"{name} missing")
    return errors


def test_tables_match_torchdiffeqs_solver_classes():
    assert _table_errors(TORCHDIFFEQ_ADAPTIVE, TORCHDIFFEQ_FIXED) == []
    # every torchdiffeq method reaches the sampler, its euler/midpoint/rk4 as ours
    assert set(TORCHDIFFEQ_ADAPTIVE) <= set(TORCHDIFFEQ_METHODS)
    assert set(TORCHDIFFEQ_FIXED) - set(FIXED_STEP_METHODS) <= set(TORCHDIFFEQ_METHODS)
    assert not set(TORCHDIFFEQ_METHODS) & set(FIXED_STEP_METHODS)
    assert set(TORCHDIFFEQ_METHODS) <= set(sampling_methods(Sphere(2)))


def test_the_table_check_catches_the_old_table():
    # the old table called heun2 / heun3 / the Adams methods adaptive
    old_adaptive = (*TORCHDIFFEQ_ADAPTIVE, "heun2", "heun3", "explicit_adams")
    errors = _table_errors(old_adaptive, ("euler", "midpoint", "rk4"))
    assert "heun2 listed adaptive" in errors and "implicit_adams missing" in errors


def _field(x, t):
    return torch.linalg.cross(OMEGA.expand_as(x), x, dim=-1)


def _rotate(x0, t):
    k = OMEGA / OMEGA.norm()
    kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=F64)
    th = float(OMEGA.norm()) * t
    r = torch.eye(3, dtype=F64) + math.sin(th) * kx + (1 - math.cos(th)) * kx @ kx
    return x0 @ r.T


@pytest.mark.parametrize("method", ["heun2", "heun3", "implicit_adams"])
def test_sample_steps_a_fixed_grid_method_on_the_grid(method):
    sp = Sphere(2)
    x0 = sp.sample_prior(16, generator=torch.Generator().manual_seed(0), dtype=F64)
    runs = {n: sample(_field, sp, x0, steps=n, method=method) for n in (10, 20)}
    # one or more evaluations per grid step (Adams: a few more to start its history)
    assert runs[10].nfe >= 10 and runs[20].nfe - runs[10].nfe >= 10
    errs = {n: float((r.x - _rotate(x0, 1.0)).norm(dim=-1).max()) for n, r in runs.items()}
    assert errs[20] < errs[10] / 3  # converges at order >= 2 in the number of steps
    assert errs[20] < 1e-2


class _GaussianFlow:
    """Pushes N(0, I) to N(m, s^2 I): x_t = (1 + t (s - 1)) x0 + t m."""

    m = torch.tensor([0.5, -1.0], dtype=F64)
    s = 0.5

    def __call__(self, x, t):
        sig = 1 + t * (self.s - 1)
        return (self.s - 1) * (x - t[:, None] * self.m) / sig[:, None] + self.m

    def log_density(self, x):
        sq = ((x - self.m) ** 2).sum(-1)
        return -0.5 * sq / self.s**2 - 2 * math.log(self.s) - math.log(2 * math.pi)


@pytest.mark.parametrize("method", ["heun2", "heun3", "implicit_adams"])
def test_log_prob_steps_a_fixed_grid_method_on_the_grid(method):
    flow, sp = _GaussianFlow(), Euclidean(2)
    x1 = flow.m + flow.s * torch.randn(32, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    exact = flow.log_density(x1)
    r = log_prob(flow, sp, x1, steps=40, method=method)
    assert r.nfe >= 40  # at least one evaluation per step (one step before the fix)
    assert float((r.log_prob - exact).abs().max()) < 1e-3
    # the bug this guards against: the same method on the two end times is one step
    one = log_prob(flow, sp, x1, time_grid=[1.0, 0.0], method=method)
    assert float((one.log_prob - exact).abs().max()) > 100 * float((r.log_prob - exact).abs().max())


def test_adaptive_log_prob_still_chooses_its_own_steps():
    flow, sp = _GaussianFlow(), Euclidean(2)
    x1 = flow.m + flow.s * torch.randn(8, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    a = log_prob(flow, sp, x1, steps=3, method="dopri5", atol=1e-9, rtol=1e-9)
    b = log_prob(flow, sp, x1, steps=300, method="dopri5", atol=1e-9, rtol=1e-9)
    assert a.nfe == b.nfe  # steps do not reach an adaptive solve
    torch.testing.assert_close(a.log_prob, flow.log_density(x1), atol=1e-6, rtol=0)


def test_log_prob_refuses_an_unknown_method_before_any_work():
    calls = []

    def field(x, t):
        calls.append(1)
        return x

    with pytest.raises(ValueError, match="unknown method 'nope'"):
        log_prob(field, Euclidean(2), torch.zeros(3, 2), method="nope")
    assert not calls
