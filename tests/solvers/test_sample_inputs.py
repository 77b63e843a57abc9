"""sample / log_prob refuse bad inputs before any work and follow the model's device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from discrete_fm import CTMCSpace
from manifold_fm import Euclidean, Sphere
from manifold_fm.conditioning import ConditionError, accepted_cond_keys, check_cond
from manifold_fm.nn import TangentModel, TimeMLP
from manifold_fm.solvers import log_prob, sample


def test_off_manifold_x0_is_refused_naming_the_row():
    sp = Sphere(2)
    x0 = sp.sample_prior(6, generator=torch.Generator().manual_seed(0))
    x0[4] *= 5.0  # rows scaled off the sphere were silently projected before

    def model(x, t):
        raise AssertionError("the model must not run")

    with pytest.raises(ValueError, match="row 4"):
        sample(model, sp, x0, steps=3)
    sample(lambda x, t: torch.zeros_like(x), sp, sp.projx(x0), steps=3)  # valid x0 runs


def test_ctmc_x0_may_hold_the_mask_id_but_not_other_ids():
    sp = CTMCSpace(5, 4, "mask")
    logits = torch.zeros(3, 4, 5)
    x0 = sp.sample_prior(3)
    assert sample(lambda x, t: logits, sp, x0, steps=2).x.shape == (3, 4)
    x0[1, 2] = 9
    with pytest.raises(ValueError, match="row 1, position 2"):
        sample(lambda x, t: logits, sp, x0, steps=2)


def _mlp(space, **kw):
    return TimeMLP.for_space(space, hidden=8, depth=1, time_dim=4, **kw)


def test_a_condition_the_model_does_not_take_is_an_error():
    sp = Sphere(2)
    label = torch.zeros(4, dtype=torch.long)
    model = TangentModel(sp, _mlp(sp, n_classes=3))  # TimeMLP swallows extras with **_
    with pytest.raises(ConditionError, match="'lable'"):
        sample(model, sp, 4, steps=2, cond={"lable": label})
    with pytest.raises(ConditionError, match="'lable'"):
        log_prob(model, sp, sp.sample_prior(4), steps=2, cond={"lable": label})
    assert sample(model, sp, 4, steps=2, cond={"label": label}).x.shape == (4, 3)
    assert accepted_cond_keys(model) == {"label", "cond_drop"}


def test_guidance_needs_a_model_that_can_drop_its_condition():
    def model(x, t, label=None):
        return torch.zeros_like(x)

    with pytest.raises(ConditionError, match="cond_drop"):
        sample(model, Euclidean(2), 4, steps=2, cond={"label": torch.ones(4)}, guidance_scale=2.0)


def test_models_with_kwargs_accept_anything_and_declared_keys_win():
    def open_model(x, t, **cond):
        return torch.zeros_like(x)

    check_cond(open_model, {"anything": 1}, guidance=True)

    class Declared(nn.Module):
        cond_keys = ("label",)

        def forward(self, x, t, **cond):
            return torch.zeros_like(x)

    check_cond(Declared(), {"label": 1})
    with pytest.raises(ConditionError, match="'colour'"):
        check_cond(Declared(), {"colour": 1})


class _Probe(Exception):
    pass


class _OnMeta(nn.Module):
    """A model whose parameters live on the meta device; records where its inputs are."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2, device="meta"))
        self.devices: list[torch.device] = []

    def forward(self, x, t):
        self.devices.append(x.device)
        raise _Probe


def test_sample_draws_x0_on_the_model_device():
    model = _OnMeta()
    with pytest.raises(_Probe):
        sample(model, Euclidean(2), 4, steps=2)
    assert model.devices == [torch.device("meta")]


def test_log_prob_evaluates_on_the_model_device():
    model = _OnMeta()
    with pytest.raises(_Probe):
        log_prob(model, Euclidean(2), torch.randn(3, 2), steps=2)
    assert model.devices == [torch.device("meta")]
