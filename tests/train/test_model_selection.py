"""Model selection on validation: the best-scoring EMA checkpoint is the one returned."""

from __future__ import annotations

import pytest
import torch

from manifold_fm import Sphere
from manifold_fm.nn import build_mlp
from manifold_fm.train import TrainConfig, Trainer
from manifold_fm.train.model_selection import SelectionResult, fit_select_best


def _trainer(steps: int = 12) -> Trainer:
    sp = Sphere(2)
    data = sp.sample_prior(256, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    cfg = TrainConfig(
        steps=steps, batch_size=32, warmup_steps=0, device="cpu", log_every=4, progress=False
    )
    return Trainer(sp, build_mlp(sp, hidden=16, depth=2), data, cfg)


def test_the_lowest_score_is_kept_and_the_ema_model_holds_its_weights():
    trainer = _trainer()
    scripted = iter([3.0, 1.0, 2.0])  # evaluated at steps 4, 8, 12
    seen = {}

    def score(model):
        s = next(scripted)
        seen[s] = {k: v.clone() for k, v in model.state_dict().items()}
        return s

    res = fit_select_best(trainer, score, eval_every=4)
    assert isinstance(res, SelectionResult)
    assert res.history == [(4, 3.0), (8, 1.0), (12, 2.0)]
    assert (res.best_score, res.best_step) == (1.0, 8)
    assert trainer.step == 12 and res.model is trainer.ema_model
    for k, v in res.model.state_dict().items():
        torch.testing.assert_close(v, seen[1.0][k])


def test_ties_keep_the_earlier_step_and_the_last_step_is_always_scored():
    res = fit_select_best(_trainer(10), lambda m: 0.5, eval_every=4)
    assert [s for s, _ in res.history] == [4, 8, 10]
    assert res.best_step == 4


def test_without_a_score_it_trains_to_the_end():
    trainer = _trainer()
    res = fit_select_best(trainer, eval_every=4)
    assert trainer.step == 12
    assert res.history == [] and res.best_score == float("inf") and res.best_step == 12


def test_a_chunked_fit_equals_one_fit():
    """Scoring between chunks does not change training (same LR schedule, same draws)."""
    a, b = _trainer(), _trainer()
    fit_select_best(a, lambda m: float(a.step), eval_every=3)  # the first chunk scores best
    b.fit()
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)


def test_a_bad_eval_every_is_refused():
    with pytest.raises(ValueError, match="eval_every"):
        fit_select_best(_trainer(), lambda m: 0.0, eval_every=-1)
