"""Model selection on validation: train in chunks, score the EMA model, keep the best.

The published likelihood protocols (e.g. Chen & Lipman 2024) select the checkpoint with
the lowest validation NLL among the EMA models seen during training, not the last one.
:func:`fit_select_best` does that for any :class:`~manifold_fm.train.Trainer`: it runs
``Trainer.fit(until=k)`` for k = e, 2e, ..., steps (``e = eval_every``; continuing a fit
keeps the full run's learning-rate schedule), evaluates ``score(trainer.ema_model)`` after
each chunk and restores the EMA weights of the lowest score at the end::

    best = argmin_{k in {e, 2e, ..., steps}} score(EMA_k)

Ties keep the earlier step. Without a ``score`` the run simply trains to the end.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from manifold_fm.train.trainer import Trainer

__all__ = ["SelectionResult", "fit_select_best"]


@dataclass(frozen=True)
class SelectionResult:
    """The selected EMA model, its score, the step it was taken at and the score history.

    ``best_score`` is ``inf`` and ``history`` empty when no score was given (``model`` is
    then the EMA model of the last step, ``best_step`` the step count).
    """

    model: nn.Module
    best_score: float
    best_step: int
    history: list[tuple[int, float]] = field(default_factory=list)


def fit_select_best(
    trainer: Trainer,
    score: Callable[[nn.Module], float] | None = None,
    *,
    eval_every: int = 0,
) -> SelectionResult:
    """Train ``trainer`` to ``trainer.config.steps``; return the EMA model of lowest score.

    ``score(ema_model)`` (e.g. the validation NLL, lower is better) is evaluated every
    ``eval_every`` steps and at the last step (``eval_every`` 0: at the last step only).
    The trainer's EMA model is left holding the selected weights. Raises ValueError for a
    negative ``eval_every``.
    """
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
        raise ValueError(f"fit_select_best: eval_every must be an integer >= 0, got {eval_every!r}")
    steps = trainer.config.steps
    every = eval_every if (score is not None and eval_every) else steps
    stops = sorted({*range(every, steps + 1, every), steps})
    best, best_step, best_state = math.inf, steps, None
    history: list[tuple[int, float]] = []
    for stop in stops:
        trainer.fit(until=stop)
        if score is None:
            continue
        s = float(score(trainer.ema_model))
        history.append((stop, s))
        if s < best:
            best, best_step = s, stop
            best_state = copy.deepcopy(trainer.ema_model.state_dict())
    ema = trainer.ema_model
    if best_state is not None:
        ema.load_state_dict(best_state)
    return SelectionResult(model=ema, best_score=best, best_step=best_step, history=history)
