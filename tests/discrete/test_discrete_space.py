"""CTMCSpace invariants: rates, path marginals, loss, padding, validation, guidance."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from discrete_fm import CTMCSpace, jump_rates, posterior_log_probs, sample_categorical
from manifold_fm.solvers import sample


@settings(deadline=None, max_examples=20)
@given(
    source=st.sampled_from(["mask", "uniform"]),
    t=st.floats(0.0, 0.99),
    seed=st.integers(0, 10_000),
    schedule=st.sampled_from(["linear", "cosine", "poly2"]),
)
def test_rate_rows_sum_to_zero_and_are_nonnegative(source, t, seed, schedule):
    g = torch.Generator().manual_seed(seed)
    sp = CTMCSpace(5, 3, source, schedule)
    x = torch.randint(0, sp.input_vocab_size, (7, 3), generator=g)
    logits = torch.randn(7, 3, 5, generator=g, dtype=torch.float64)
    lp = posterior_log_probs(logits, x, sp.mask_id)
    rates = jump_rates(
        lp, x, torch.full((7,), t, dtype=torch.float64), sp.schedule, sp.input_vocab_size
    )
    assert torch.allclose(rates.sum(-1), torch.zeros(7, 3, dtype=torch.float64), atol=1e-9)
    off = rates.masked_fill(torch.nn.functional.one_hot(x, sp.input_vocab_size).bool(), 0.0)
    assert bool((off >= -1e-12).all())
    if source == "mask":  # the mask state is never a destination; clean tokens never move
        assert bool((rates[..., sp.vocab_size] <= 0).all())
        clean = x != sp.vocab_size
        assert bool((rates[clean] == 0).all())


@pytest.mark.parametrize("source", ["mask", "uniform"])
def test_path_marginal_is_kappa(source):
    g = torch.Generator().manual_seed(0)
    sp = CTMCSpace(6, 50, source, "cosine")
    x1 = torch.randint(0, 6, (400, 50), generator=g)
    t = torch.full((400,), 0.3)
    s = sp.path(sp.sample_prior(400, generator=g), x1, t, generator=g)
    kappa = float(sp.schedule(torch.tensor(0.3))[0])
    frac = float((s.x_t == x1).double().mean())
    expect = kappa if source == "mask" else kappa + (1 - kappa) / 6
    assert abs(frac - expect) < 4 * math.sqrt(expect * (1 - expect) / x1.numel())


@pytest.mark.parametrize("method", ["euler", "ancestral"])
def test_oracle_posterior_ctmc_reproduces_path_marginal(method):
    """With p = delta_{x1}, the CTMC from p0 has P(x_t = x1) = kappa_t + (1 - kappa_t)/V.

    Euler (tau-leaping) is exact only as h -> 0 (h = 0.01 here); the ancestral step is exact
    for any h, so it gets a coarse grid.
    """
    g = torch.Generator().manual_seed(1)
    sp = CTMCSpace(8, 40, "uniform", step_method=method)
    x1 = torch.randint(0, 8, (300, 40), generator=g)
    logits = torch.nn.functional.one_hot(x1, 8).double() * 60.0

    def model(x_t, t):
        return logits

    every = 20 if method == "euler" else 1
    grid = torch.linspace(0, 0.6, 3 * every + 1)
    res = sample(model, sp, 300, time_grid=grid, generator=g, return_trajectory=True)
    for k, t in enumerate([0.2, 0.4, 0.6], start=1):
        expect = t + (1 - t) / 8
        frac = float((res.trajectory[k * every] == x1).double().mean())
        assert abs(frac - expect) < 4 * math.sqrt(expect * (1 - expect) / x1.numel()) + 0.005


def test_loss_ce_and_elbo_agree_for_mask_source_and_are_nonnegative():
    g = torch.Generator().manual_seed(2)
    sp_ce = CTMCSpace(5, 6, "mask", loss="ce")
    sp_el = CTMCSpace(5, 6, "mask", loss="elbo")
    x1 = torch.randint(0, 5, (9, 6), generator=g)
    t = torch.rand(9, generator=g) * 0.9
    s = sp_ce.path(sp_ce.sample_prior(9), x1, t, generator=g)
    logits = torch.randn(9, 6, 5, generator=g)
    w = 1 / (1 - t)
    assert torch.allclose(sp_el.loss(logits, s), w * sp_ce.loss(logits, s), rtol=1e-5)
    su = CTMCSpace(5, 6, "uniform", loss="elbo")
    s2 = su.path(su.sample_prior(9, generator=g), x1, t, generator=g)
    assert bool((su.generalized_kl(logits, s2) >= 0).all())


@pytest.mark.parametrize("source", ["mask", "uniform"])
@pytest.mark.parametrize("method", ["euler", "ancestral"])
def test_padding_positions_never_change(source, method):
    g = torch.Generator().manual_seed(3)
    sp = CTMCSpace(7, 10, source, step_method=method)
    mask = torch.rand(20, 10, generator=g) < 0.6
    x0 = sp.sample_prior(20, generator=g)

    def model(x, t, mask=None):
        return torch.randn(x.shape[0], 10, 7, generator=g)

    res = sample(model, sp, x0, steps=8, generator=g, mask=mask)
    assert torch.equal(res.x[~mask], x0[~mask])
    assert bool((res.x[mask] < 7).all())  # every real position ends clean
    s = sp.path(x0, torch.randint(0, 7, (20, 10), generator=g), torch.rand(20), mask=mask)
    assert torch.equal(s.x_t[~mask], s.x1[~mask])
    logits = torch.randn(20, 10, 7)
    full = sp.loss(logits, s)
    s.x1 = torch.where(mask, s.x1, (s.x1 + 1) % 7)  # changing padded targets changes nothing
    s.x_t = torch.where(mask, s.x_t, s.x1)
    assert torch.allclose(sp.loss(logits, s), full)


def test_generator_makes_sampling_reproducible():
    sp = CTMCSpace(6, 5, "uniform")
    logits = torch.randn(4, 5, 6)

    def model(x, t):
        return logits

    a = sample(model, sp, 4, steps=5, generator=torch.Generator().manual_seed(7)).x
    b = sample(model, sp, 4, steps=5, generator=torch.Generator().manual_seed(7)).x
    assert torch.equal(a, b)


def test_categorical_sampler_matches_probabilities_and_keeps_tail():
    g = torch.Generator().manual_seed(4)
    p = torch.tensor([0.5, 0.0, 0.3, 0.2 - 1e-4, 1e-4], dtype=torch.float64)
    draws = sample_categorical(p.expand(200_000, 5), generator=g)
    freq = torch.bincount(draws, minlength=5).double() / 200_000
    assert freq[1] == 0
    assert torch.allclose(freq, p, atol=4e-3)
    assert freq[4] > 0  # the 1e-4 tail is sampled (~20 expected)


def test_validate_names_bad_rows():
    sp = CTMCSpace(4, 3, "mask")
    sp.validate(torch.tensor([[0, 1, 3]]))
    with pytest.raises(ValueError, match="row 1, position 2 holds id 4"):
        sp.validate(torch.tensor([[0, 1, 3], [0, 0, 4]]))
    sp.validate(torch.tensor([[0, 4, 3]]), allow_mask=True)
    with pytest.raises(ValueError, match="integer token ids"):
        sp.validate(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        sp.validate(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="row 0, position 0"):
        sp.validate(torch.tensor([[-1, 0, 0]]))
    with pytest.raises(ValueError, match="source"):
        CTMCSpace(4, 3, "gaussian")
    with pytest.raises(ValueError, match="logits must have shape"):
        s = sp.path(sp.sample_prior(2), torch.zeros(2, 3, dtype=torch.long), torch.rand(2))
        sp.loss(torch.zeros(2, 3, 5), s)


def test_log_prior_and_guidance():
    sp = CTMCSpace(4, 3, "uniform")
    x = torch.tensor([[0, 1, 2]])
    assert math.isclose(float(sp.log_prior(x)), -3 * math.log(4), rel_tol=1e-6)
    spm = CTMCSpace(4, 3, "mask")
    assert float(spm.log_prior(spm.sample_prior(1))) == 0.0
    assert float(spm.log_prior(x)) == float("-inf")
    c, u = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    g1 = sp.guide(c, u, 1.0)
    assert torch.allclose(g1.softmax(-1), c.softmax(-1), atol=1e-6)
    g0 = sp.guide(c, u + 5.0, 0.0)  # an offset of the logits does not matter
    assert torch.allclose(g0.softmax(-1), u.softmax(-1), atol=1e-6)


def test_temperature_and_top_p_are_off_by_default_and_lower_entropy():
    sp = CTMCSpace(4, 1, "mask")
    assert sp.temperature == 1.0 and sp.top_p == 1.0
    cold = CTMCSpace(4, 1, "mask", temperature=0.3, top_p=0.8)
    logits = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1])).expand(20000, 1, 4)
    g = torch.Generator().manual_seed(5)
    x0 = sp.sample_prior(20000)
    a = sp.step(x0, logits, 0.0, 1.0, generator=g)
    b = cold.step(x0, logits, 0.0, 1.0, generator=g)

    def ent(x):
        f = torch.bincount(x.flatten(), minlength=4).double() / x.numel()
        f = f[f > 0]
        return float(-(f * f.log()).sum())

    assert ent(b) < ent(a) - 0.1
    assert bool((b < 3).all())  # top_p=0.8 cuts the 0.1 token (after sharpening)
