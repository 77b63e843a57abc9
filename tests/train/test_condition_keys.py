"""A condition the model does not read is an error, in training and in sampling.

Before, an unconditional TimeMLP took ``label`` (and ``cond_drop``) and silently ignored
them, so a typo or a missing ``n_classes`` gave unconditional results.
"""

from __future__ import annotations

import pytest
import torch

from manifold_fm import Sphere
from manifold_fm.conditioning import ConditionError
from manifold_fm.nn import TangentModel, TimeMLP
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer


def _model(space, n_classes=None):
    return TangentModel(space, TimeMLP.for_space(space, hidden=16, depth=2, n_classes=n_classes))


def test_trainer_refuses_a_condition_the_model_does_not_read(tmp_path):
    space = Sphere(2)
    g = torch.Generator().manual_seed(0)
    data = {"x1": space.sample_prior(32, generator=g), "lable": torch.zeros(32, dtype=torch.long)}
    cfg = TrainConfig(steps=2, batch_size=8, out_dir=str(tmp_path), progress=False)
    with pytest.raises(ConditionError, match="'lable'"):
        Trainer(space, _model(space, n_classes=3), data, cfg)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_trainer_refuses_labels_for_an_unconditional_model(tmp_path):
    space = Sphere(2)
    data = {"x1": space.sample_prior(32), "label": torch.zeros(32, dtype=torch.long)}
    cfg = TrainConfig(steps=2, batch_size=8, out_dir=str(tmp_path), progress=False)
    with pytest.raises(ConditionError, match="no condition"):
        Trainer(space, _model(space), data, cfg)


def test_labels_reach_a_conditional_model():
    space = Sphere(2)
    data = {"x1": space.sample_prior(32), "label": torch.zeros(32, dtype=torch.long)}
    cfg = TrainConfig(steps=2, batch_size=8, progress=False, cond_dropout=0.2)
    Trainer(space, _model(space, n_classes=3), data, cfg).fit()


def test_guidance_on_an_unconditional_model_is_refused():
    space = Sphere(2)
    label = {"label": torch.zeros(4, dtype=torch.long)}
    with pytest.raises(ConditionError):
        sample(_model(space), space, 4, steps=2, cond=label, guidance_scale=2.0)
    out = sample(_model(space, n_classes=3), space, 4, steps=2, cond=label, guidance_scale=2.0)
    assert out.x.shape == (4, 3)
