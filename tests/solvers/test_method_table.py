"""The one sampling loop: per-space method table, space-declared steps, one ambient adapter."""

from __future__ import annotations

import pytest
import torch

import manifold_fm.solvers.field as field_mod
from discrete_fm import CTMCSpace, sample_ancestral
from manifold_fm import Euclidean, Sphere
from manifold_fm.solvers import log_prob, sample, sampling_methods


def _logits_model(logits):
    def model(x, t):
        return logits

    return model


def test_ancestral_is_a_method_of_the_ctmc_space():
    sp = CTMCSpace(6, 8, "mask")
    model = _logits_model(torch.randn(10, 8, 6, generator=torch.Generator().manual_seed(0)))
    runs = [
        sample(
            model, sp, 10, steps=5, method="ancestral", generator=torch.Generator().manual_seed(1)
        ),
        sample_ancestral(model, sp, 10, steps=5, generator=torch.Generator().manual_seed(1)),
        sample(
            model,
            CTMCSpace(6, 8, "mask", step_method="ancestral"),
            10,
            steps=5,
            generator=torch.Generator().manual_seed(1),
        ),
    ]
    assert all(torch.equal(r.x, runs[0].x) for r in runs)
    assert bool((runs[0].x < 6).all())  # the exact last step leaves no mask token
    assert "ancestral" in sampling_methods(sp) and "rk4" not in sampling_methods(sp)


def test_ancestral_step_leaves_the_space_untouched():
    class Watched(CTMCSpace):
        def __setattr__(self, name, value):
            if getattr(self, "_frozen", False):
                raise AssertionError(f"step rewrote {name}")
            super().__setattr__(name, value)

    sp = Watched(5, 4, "uniform")
    sp._frozen = True
    x = sp.sample_prior(3, generator=torch.Generator().manual_seed(0))
    out = sp.ancestral_step(x, torch.randn(3, 4, 5), 0.2, 0.3, generator=torch.Generator())
    assert out.shape == x.shape and sp.step_method == "euler"


@pytest.mark.parametrize(
    ("space", "method", "listed"),
    [
        (Sphere(2), "nope", ("euler", "midpoint", "rk4", "dopri5")),
        (Sphere(2), "ancestral", ("euler", "rk4", "dopri5")),
        (CTMCSpace(5, 4), "dopri5", ("euler", "ancestral")),
        (CTMCSpace(5, 4), "nope", ("euler", "ancestral")),
    ],
)
def test_unknown_method_lists_the_choices_of_that_space(space, method, listed):
    calls = []

    def model(x, t):
        calls.append(1)
        return torch.zeros(x.shape[0], *space.output_shape)

    with pytest.raises(ValueError, match=method) as err:
        sample(model, space, 4, steps=2, method=method)
    assert all(name in str(err.value) for name in listed)
    assert not calls  # refused before any work


def test_sampler_and_likelihood_share_one_ambient_adapter(monkeypatch):
    seen = []
    forward = field_mod.AmbientODE.forward

    def spy(self, t, state):
        seen.append(isinstance(state, tuple))
        return forward(self, t, state)

    monkeypatch.setattr(field_mod.AmbientODE, "forward", spy)

    def model(x, t):
        return -x

    x = torch.randn(5, 2, dtype=torch.float64)
    sample(model, Euclidean(2), x, steps=None, time_grid=[0.0, 1.0], method="dopri5")
    log_prob(model, Euclidean(2), x, method="dopri5")
    assert False in seen and True in seen  # plain state (sampler) and augmented (likelihood)
