"""The training jobs of the compute curves: AR and CTMC models on text and on MSAs.

``benchmarks.discrete.gap`` and ``benchmarks.discrete.levers`` continue
training runs across CPU budgets with :func:`benchmarks.discrete.curve_runs.run_curve`; a job
wraps one model, its optimiser state and its evaluation. Jobs build the same networks,
data and recipes as ``benchmarks.discrete.text`` / ``benchmarks.discrete.sequences`` (see
:func:`text_splits` and :func:`build_job`), so a curve point at the benchmark's budget is
that benchmark's setting.

Lever options of a CTMC job (validated by :func:`split_levers`): TrainConfig keys
(``warmup_steps``, ``lr_schedule``, ``steps``, ``time_sampling``, ``self_condition``),
space keys (``schedule``: kappa_t, e.g. "cosine"; ``loss``: "ce" or "elbo") and the
recipe's ``lr``, ``batch_size``, ``dim``, ``depth``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.discrete.baselines import ARModel
from benchmarks.discrete.fit import LEVER_KEYS, ctmc_trainer, fit_ar, train_for
from discrete_fm import CTMCSpace
from discrete_fm.self_condition import two_pass
from discrete_fm.transformer import SequenceTransformer
from manifold_fm.train import checkpoint as ckpt

__all__ = ["ARJob", "CTMCJob", "build_job", "split_levers", "text_splits"]

SPACE_KEYS = ("schedule", "loss")
RECIPE_KEYS = ("lr", "batch_size", "dim", "depth")


def text_splits(corpus, length: int, eval_chunks: int) -> tuple[Tensor, Tensor, Tensor]:
    """Train windows (stride L/2), all test chunks, and the first ``eval_chunks`` of them."""
    train = corpus.train.unfold(0, length, length // 2).contiguous()
    test = corpus.chunks("test", length)
    return train, test, test[:eval_chunks]


def split_levers(levers: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(space options, recipe options, TrainConfig options) of a lever dict.

    Raises ValueError naming an unknown key; values are checked by CTMCSpace,
    SequenceTransformer and TrainConfig when the job is built.
    """
    allowed = (*SPACE_KEYS, *RECIPE_KEYS, *LEVER_KEYS)
    unknown = sorted(set(levers) - set(allowed))
    if unknown:
        raise ValueError(f"lever option(s) {unknown} unknown; allowed: {sorted(allowed)}")
    pick = lambda keys: {k: v for k, v in levers.items() if k in keys}  # noqa: E731
    return pick(SPACE_KEYS), pick(RECIPE_KEYS), pick(LEVER_KEYS)


class ARJob:
    """The AR baseline (AdamW, constant lr) as a curve job; ``evaluate(model) -> dict``."""

    def __init__(self, model: ARModel, train: Tensor, settings: dict, evaluate: Callable):
        self.model, self.train_data, self.settings = model, train, settings
        self.opt = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(settings["seed"])
        self._evaluate = evaluate

    def train(self, seconds: float) -> int:
        rep = fit_ar(
            self.model,
            self.train_data,
            budget_s=seconds,
            batch_size=self.settings["batch_size"],
            generator=self.gen,
            optimizer=self.opt,
            clock=time.process_time,
        )
        return rep.steps

    def evaluate(self) -> dict[str, Any]:
        return self._evaluate(self.model)

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "gen": self.gen.get_state(),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])


class CTMCJob:
    """A CTMC model on the shared Trainer as a curve job; ``evaluate(posterior) -> dict``
    gets the model as a plain posterior (two passes when self-conditioned)."""

    def __init__(
        self,
        space: CTMCSpace,
        net: nn.Module,
        train: Tensor,
        settings: dict,
        train_levers: dict,
        evaluate: Callable,
    ) -> None:
        self.space, self.net, self.settings = space, net, settings
        self.trainer = ctmc_trainer(
            space,
            net,
            train,
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            seed=settings["seed"],
            **train_levers,
        )
        self.self_condition = bool(train_levers.get("self_condition", False))
        self._evaluate = evaluate

    def train(self, seconds: float) -> int:
        before = self.trainer.step
        train_for(self.trainer, seconds, clock=time.process_time)
        return self.trainer.step - before

    def posterior(self) -> nn.Module:
        return two_pass(self.net, self.space) if self.self_condition else self.net

    def evaluate(self) -> dict[str, Any]:
        return self._evaluate(self)

    def state(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load(self, state: dict[str, Any]) -> None:
        ckpt.restore_training_state(self.trainer, state, "curve checkpoint")


def build_job(
    model: str,
    vocab: int,
    length: int,
    train: Tensor,
    base: dict[str, Any],
    levers: dict[str, Any],
    evaluate: Callable,
) -> ARJob | CTMCJob:
    """An ``"ar"`` or ``"mask"`` job with recipe ``base`` (dim, depth, heads, batch_size,
    lr, seed, ...) overridden by ``levers`` (mask only); settings record both."""
    space_kw, recipe, train_kw = split_levers(levers)
    if model == "ar" and levers:
        raise ValueError(f"levers {sorted(levers)} apply to the mask model only")
    cfg = {**base, **recipe}
    settings = {**cfg, "model": model, "levers": dict(sorted(levers.items()))}
    net_kw = dict(dim=cfg["dim"], depth=cfg["depth"], heads=cfg["heads"])
    torch.manual_seed(cfg["seed"])
    if model == "ar":
        return ARJob(ARModel(vocab, length, **net_kw), train, settings, evaluate)
    if model != "mask":
        raise ValueError(f"model must be 'ar' or 'mask', got {model!r}")
    space = CTMCSpace(vocab, length, "mask", reduction="mean", **space_kw)
    sc = bool(train_kw.get("self_condition", False))
    net = SequenceTransformer.for_space(space, self_condition=sc, **net_kw)
    return CTMCJob(space, net, train, settings, train_kw, evaluate)
