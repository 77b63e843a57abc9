"""Schedules: closed-form derivatives match finite differences; endpoints; bad names raise."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm.schedules import (
    CondOTAffine,
    Cosine,
    Linear,
    Polynomial,
    TrigAffine,
    VPAffine,
    as_affine_schedule,
    as_kappa_schedule,
)

KAPPAS = [Linear(), Cosine(), Polynomial(1), Polynomial(2), Polynomial(3.5)]
AFFINES = [CondOTAffine(), CondOTAffine(Cosine()), TrigAffine(), VPAffine()]
H = 1e-6


@pytest.mark.parametrize("sched", KAPPAS, ids=repr)
@settings(deadline=None, max_examples=25)
@given(t=st.floats(0.01, 0.99))
def test_kappa_derivative_matches_finite_difference(sched, t):
    tt = torch.tensor([t - H, t, t + H], dtype=torch.float64)
    k, dk = sched(tt)
    fd = (k[2] - k[0]) / (2 * H)
    assert abs(float(fd - dk[1])) < 1e-6 * max(1.0, abs(float(dk[1])))
    assert float(dk[1]) >= 0 and 0 <= float(k[1]) <= 1


@pytest.mark.parametrize("sched", AFFINES, ids=repr)
@settings(deadline=None, max_examples=25)
@given(t=st.floats(0.01, 0.99))
def test_affine_derivatives_match_finite_difference(sched, t):
    tt = torch.tensor([t - H, t, t + H], dtype=torch.float64)
    a, s, da, ds = sched(tt)
    for val, der in [(a, da), (s, ds)]:
        fd = (val[2] - val[0]) / (2 * H)
        assert abs(float(fd - der[1])) < 1e-5 * max(1.0, abs(float(der[1])))


@pytest.mark.parametrize("sched", KAPPAS, ids=repr)
def test_kappa_endpoints(sched):
    k, dk = sched(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert k.tolist() == pytest.approx([0.0, 1.0], abs=1e-15)
    if isinstance(sched, Polynomial) and sched.n < 1:
        assert float(dk[0]) == float("inf")  # t^n with n < 1 has an infinite slope at 0
    else:
        assert torch.isfinite(dk).all()


@pytest.mark.parametrize("sched", AFFINES, ids=repr)
def test_affine_endpoints(sched):
    a, s, da, ds = sched(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert float(a[1]) == pytest.approx(1.0) and float(s[1]) == pytest.approx(0.0, abs=1e-12)
    # VP never reaches pure noise: alpha_0 = exp(-(beta_min + beta_max) / 4) = 0.0066
    a0_tol = 1e-2 if isinstance(sched, VPAffine) else 1e-12
    assert float(a[0]) == pytest.approx(0.0, abs=a0_tol)
    assert float(s[0]) == pytest.approx(1.0, abs=1e-4)
    assert all(torch.isfinite(v).all() for v in (a, s, da, ds))


def test_rate_is_clamped_near_one():
    r = Linear().rate(torch.tensor([0.0, 0.5, 1.0]), eps=1e-3)
    assert r.tolist() == pytest.approx([1.0, 2.0, 1000.0])


def test_names_resolve():
    assert isinstance(as_kappa_schedule(None), Linear)
    assert isinstance(as_kappa_schedule("cosine"), Cosine)
    p = as_kappa_schedule("poly3")
    assert isinstance(p, Polynomial) and p.n == 3
    assert isinstance(as_affine_schedule("vp"), VPAffine)
    assert isinstance(as_affine_schedule("TRIG"), TrigAffine)
    assert isinstance(as_affine_schedule(Cosine()), CondOTAffine)


@pytest.mark.parametrize("name", ["nope", "poly", "polyx", "poly-1", "poly0", "poly0.5", ""])
def test_bad_kappa_names_raise(name):
    with pytest.raises(ValueError, match=r"schedule|exponent"):
        as_kappa_schedule(name)


def test_bad_schedule_arguments_raise():
    with pytest.raises(ValueError, match="schedule"):
        as_kappa_schedule(3)
    with pytest.raises(ValueError, match="schedule"):
        as_affine_schedule(3.0)
    with pytest.raises(ValueError, match="unknown kappa schedule"):
        as_affine_schedule("nope")
    with pytest.raises(ValueError, match="exponent"):
        Polynomial(float("inf"))
    with pytest.raises(ValueError, match="beta"):
        VPAffine(beta_min=5.0, beta_max=1.0)
