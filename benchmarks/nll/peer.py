"""The peer at equal budget: flow_matching's Riemannian pipeline on the same model and data.

Why: a gap to published figures can come from the library or from the budget. This trains
the same MLP (same input features, same width, depth, steps, batch, AdamW, cosine LR, EMA,
validation schedule) with flow_matching's own path and loss -- its ``Sphere`` or
``FlatTorus`` manifold, ``GeodesicProbPath`` with ``CondOTScheduler``,
x_t = exp_{x1}(kappa_t log_{x1} x0) and its loss mse(v(x_t, t), dx_t) -- and scores it
with manifold_fm's ``log_prob`` exactly like ours. Skipped, with the reason recorded,
when flow_matching is not importable.
"""

from __future__ import annotations

import copy
import importlib
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from benchmarks.common.fit import FitConfig, FitResult, make_model
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.train.ema import EMA
from manifold_fm.train.lr import lr_factor

__all__ = ["fit_peer", "peer_manifold"]


def peer_manifold(manifold: str):
    """flow_matching's manifold object ('sphere' or 'torus'); ImportError when absent."""
    mods = importlib.import_module("flow_matching.utils.manifolds")
    table = {"sphere": mods.Sphere, "torus": mods.FlatTorus}
    if manifold not in table:
        raise ValueError(f"peer manifold {manifold!r}: choose one of {list(table)}")
    return table[manifold]()


def fit_peer(
    space: ManifoldSpace,
    manifold: str,
    data: Tensor,
    cfg: FitConfig,
    score: Callable[[nn.Module], float],
) -> FitResult:
    """Train ``make_model(space, cfg)`` with flow_matching's geodesic path and loss.

    Batches of ``cfg.batch_size`` training rows drawn uniformly, x0 from ``space``'s
    uniform prior, t ~ U(0, 1); ``score(ema_model)`` every ``cfg.eval_every`` steps and at
    the end selects the EMA weights, as :func:`benchmarks.common.fit.fit_flow` does.
    """
    path_mod = importlib.import_module("flow_matching.path")
    sched_mod = importlib.import_module("flow_matching.path.scheduler")
    path = path_mod.GeodesicProbPath(
        scheduler=sched_mod.CondOTScheduler(), manifold=peer_manifold(manifold)
    )
    torch.manual_seed(cfg.seed)
    model = make_model(space, cfg).to(dtype=data.dtype)
    ema = EMA(model, cfg.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    every = cfg.eval_every or cfg.steps
    best, best_step, best_state, history = math.inf, cfg.steps, None, []
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(0, data.shape[0], (cfg.batch_size,), generator=gen)
        x1 = data[idx]
        x0 = space.sample_prior(cfg.batch_size, generator=gen, dtype=data.dtype)
        t = torch.rand(cfg.batch_size, generator=gen, dtype=data.dtype)
        ps = path.sample(x_0=x0, x_1=x1, t=t)
        loss = torch.nn.functional.mse_loss(model(ps.x_t, t), ps.dx_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg.steps, 0, "cosine")
        opt.step()
        ema.update(step)
        if step % every == 0 or step == cfg.steps:
            s = float(score(ema.module))
            history.append((step, s))
            if s < best:
                best, best_step, best_state = s, step, copy.deepcopy(ema.state_dict())
    if best_state is not None:
        ema.load_state_dict(best_state)
    return FitResult(model=ema.module, best_score=best, best_step=best_step, history=history)
