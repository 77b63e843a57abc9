"""The 5-seed density-estimation protocol of Chen & Lipman 2024, shared by earth and torus.

For each seed: its own random 80/10/10 split (indices recorded), train a flow, select the
EMA checkpoint with the lowest validation NLL, report the test NLL (nats per point,
fixed-step Euler with projection, as the paper's shipped configs do). The command line,
merging into benchmarks/results/<name>.json and the report are in benchmarks/_nll_report.py.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from benchmarks._fit import FitConfig, fit_flow
from benchmarks.results_io import hardware
from manifold_fm.data.splits import duplicate_share, random_split_indices
from manifold_fm.likelihood import log_prob
from manifold_fm.spaces.base import ManifoldSpace

__all__ = [
    "EvalConfig",
    "budget_config",
    "nll",
    "run_dataset",
    "run_seed",
    "summarise",
]


@dataclass
class EvalConfig:
    """Likelihood settings: selection (val) and final (test) Euler steps, dopri5 tolerances."""

    val_steps: int = 200
    test_steps: int = 1000
    method: str = "euler"
    dopri_tol: float = 1e-5
    batch_size: int = 4096


def budget_config(
    name: str, budget: str, paper: dict[str, tuple[int, int, int, float, float]]
) -> tuple[FitConfig, EvalConfig]:
    """Training and evaluation settings of a budget ('quick', 'cpu', 'paper') for a dataset.

    ``paper`` maps dataset -> (width, linear layers, batch, lr, weight decay) of the RFM
    configs, used by the 'paper' budget.
    """
    if budget == "quick":
        fit = FitConfig(steps=300, batch_size=256, hidden=128, depth=4, lr=2e-3, eval_every=150)
        return fit, EvalConfig(val_steps=50, test_steps=200)
    if budget == "cpu":
        fit = FitConfig(steps=4000, batch_size=512, hidden=256, depth=5, lr=2e-3, eval_every=1000)
        return fit, EvalConfig(val_steps=100, test_steps=1000)
    if budget == "paper":
        width, layers, batch, lr, wd = paper[name]
        fit = FitConfig(
            steps=1_000_000, batch_size=batch, hidden=width, depth=layers - 1, lr=lr,
            weight_decay=wd, eval_every=1000,
        )  # fmt: skip
        return fit, EvalConfig(val_steps=1000, test_steps=1000)
    raise ValueError(f"unknown budget {budget!r}; choose quick, cpu or paper")


def nll(model: nn.Module, space: ManifoldSpace, x: Tensor, steps: int, method: str, **kw) -> float:
    """Mean negative log-likelihood in nats per point."""
    model.eval()
    r = log_prob(model, space, x, steps=steps, method=method, **kw)
    return float(-r.log_prob.double().mean())


def run_seed(
    space: ManifoldSpace,
    data: Tensor,
    seed: int,
    fit: FitConfig,
    ev: EvalConfig,
    *,
    dopri_check: bool = False,
    keys: Tensor | None = None,
) -> tuple[dict, nn.Module]:
    """One run of the protocol; returns its record and the selected EMA model.

    ``keys`` (n, k) are the raw rows used to count test points duplicating a training point
    (defaults to ``data``).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    split = random_split_indices(data.shape[0], seed)
    train, val, test = data[split.train], data[split.val], data[split.test]
    cfg = FitConfig(**{**asdict(fit), "seed": seed})

    def val_score(m: nn.Module) -> float:
        return nll(m, space, val, ev.val_steps, ev.method, batch_size=ev.batch_size)

    res = fit_flow(space, train, cfg, score=val_score)
    t_train = time.perf_counter() - t0
    test_nll = nll(res.model, space, test, ev.test_steps, ev.method, batch_size=ev.batch_size)
    keys = data if keys is None else keys
    rec = {
        "seed": seed,
        "test_nll": test_nll,
        "val_nll": res.best_score,
        "best_step": res.best_step,
        "val_history": res.history,
        "dup_share": duplicate_share(keys[split.train], keys[split.test]),
        "sizes": [len(split.train), len(split.val), len(split.test)],
        "val_indices": split.val.tolist(),
        "test_indices": split.test.tolist(),
        "train_s": t_train,
    }
    if dopri_check:
        td = time.perf_counter()
        rec["test_nll_dopri5"] = nll(
            res.model,
            space,
            test,
            None,
            "dopri5",
            atol=ev.dopri_tol,
            rtol=ev.dopri_tol,
            dtype=torch.float64,
            batch_size=ev.batch_size,
        )
        rec["dopri5_s"] = time.perf_counter() - td
        rec["dopri5_tol"] = ev.dopri_tol
    rec["wall_s"] = time.perf_counter() - t0
    rec["cpu_s"] = time.process_time() - c0  # = wall time on an idle core (1 thread)
    return rec, res.model


def summarise(per_run: list[dict], settings: dict, wall_s: float) -> dict:
    """The per-dataset JSON entry (test NLL mean and sample std over runs)."""
    vals = [r["test_nll"] for r in per_run]
    if not all(math.isfinite(v) for v in vals):
        raise RuntimeError(f"non-finite test NLL in runs: {vals}")
    return {
        "test_nll_mean": statistics.fmean(vals),
        "test_nll_std": statistics.stdev(vals) if len(vals) > 1 else None,
        "runs": len(vals),
        "per_run": per_run,
        "wall_s": wall_s,
        "settings": settings,
    }


def run_dataset(
    name: str,
    space: ManifoldSpace,
    data: Tensor,
    keys: Tensor,
    fit: FitConfig,
    ev: EvalConfig,
    seeds: list[int],
    budget: str,
    published: dict[str, tuple[float, float]],
) -> tuple[dict, list[nn.Module]]:
    """All seeds of one dataset: print each run, return its summary entry and the models.

    ``published`` maps method -> (mean, std) on this dataset; seed ``seeds[0]`` also gets
    the dopri5 cross-check. The entry is :func:`summarise` of the runs with the settings.
    """
    t0 = time.perf_counter()
    per_run, models = [], []
    for i, seed in enumerate(seeds):
        rec, model = run_seed(space, data, seed, fit, ev, dopri_check=(i == 0), keys=keys)
        per_run.append(rec)
        models.append(model)
        dup = f", dup {100 * rec['dup_share']:.0f}%" if rec["dup_share"] else ""
        chk = f", dopri5 {rec['test_nll_dopri5']:.3f}" if "test_nll_dopri5" in rec else ""
        print(
            f"{name} seed {seed}: test NLL {rec['test_nll']:.3f} (val {rec['val_nll']:.3f} "
            f"@ step {rec['best_step']}){dup}, wall {rec['wall_s']:.1f} s{chk}",
            flush=True,
        )
    settings = {
        "budget": budget,
        "fit": asdict(fit),
        "eval": asdict(ev),
        "seeds": list(seeds),
        "hardware": hardware(),
        "published": {m: list(v) for m, v in published.items()},
        "trainer": "benchmarks._fit.fit_flow (manifold_fm.train.Trainer)",
    }
    entry = summarise(per_run, settings, time.perf_counter() - t0)
    rfm = published.get("RFM")
    print(
        f"{name}: {entry['test_nll_mean']:.3f} ± {entry['test_nll_std'] or 0:.3f} nats"
        + (f"; RFM {rfm[0]} ± {rfm[1]}" if rfm else ""),
        flush=True,
    )
    return entry, models
