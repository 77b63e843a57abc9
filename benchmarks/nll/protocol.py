"""The 5-seed density-estimation protocol of Chen & Lipman 2024, shared by earth and torus.

For each seed: its own random 80/10/10 split (indices recorded), train a flow, select the
EMA checkpoint with the lowest validation NLL, report the test NLL (nats per point,
fixed-step Euler with projection, as the paper's shipped configs do, and rk4 beside it),
split into novel and duplicated test points, with the validation-tuned kernel estimate
of the same split (manifold_fm/metrics/kde.py). Caching of runs is in benchmarks/nll/runs.py;
the command line, merging into benchmarks/results/<name>.json and the report are in
benchmarks/nll/report.py.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from benchmarks.common.fit import FitConfig, FitResult, fit_flow
from manifold_fm.data.splits import duplicate_share, novel_mask, random_split_indices
from manifold_fm.metrics.kde import fit_kde
from manifold_fm.solvers import log_prob
from manifold_fm.spaces.base import ManifoldSpace

__all__ = [
    "BUDGETS",
    "CPU_FIT",
    "Budget",
    "EvalConfig",
    "budget_config",
    "kde_record",
    "nll",
    "point_log_probs",
    "run_seed",
    "score_test",
    "summarise",
]


@dataclass(frozen=True)
class EvalConfig:
    """Likelihood settings: selection (val) Euler steps, the two test scorers, dopri5 check.

    Test NLL is scored twice: Euler with projection, ``test_steps`` (1000: the literature's
    scorer, kept for comparability; optimistic for sharp models) and geometric rk4 with
    ``rk4_steps`` (500: agrees with dopri5 at tight tolerance). ``novel_radius`` (rad)
    splits test points into novel (no training point that close) and duplicated.
    """

    val_steps: int = 200
    test_steps: int = 1000
    rk4_steps: int = 500
    method: str = "euler"
    dopri_tol: float = 1e-5
    batch_size: int = 4096
    novel_radius: float = 1e-3


@dataclass(frozen=True)
class Budget:
    """One budget of the protocol: the training and evaluation settings.

    ``fit`` is the FitConfig of the budget (None: each dataset's published RFM config,
    from the benchmark's ``paper`` table); ``features`` says whether the benchmark's input
    features (e.g. octaves on S^2) are added to it.
    """

    fit: FitConfig | None
    eval: EvalConfig
    features: bool


#: cpu budget: training settings measured on validation NLL (benchmarks/results/earth_levers.md)
CPU_FIT = FitConfig(steps=8000, batch_size=512, hidden=256, depth=5, lr=4e-3, eval_every=1000)
#: the budgets by name: 'quick' (smoke), 'cpu' (:data:`CPU_FIT`), 'paper' (the RFM configs
#: as published), 'gpu' (the paper configs with the benchmark's input features)
BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        FitConfig(steps=300, batch_size=256, hidden=128, depth=4, lr=2e-3, eval_every=150),
        EvalConfig(val_steps=50, test_steps=200, rk4_steps=50),
        features=True,
    ),
    "cpu": Budget(CPU_FIT, EvalConfig(val_steps=100, test_steps=1000), features=True),
    "paper": Budget(None, EvalConfig(val_steps=1000, test_steps=1000), features=False),
    "gpu": Budget(None, EvalConfig(val_steps=1000, test_steps=1000), features=True),
}


def budget_config(
    name: str,
    budget: str,
    paper: dict[str, tuple[int, int, int, float, float]],
    features: dict | None = None,
) -> tuple[FitConfig, EvalConfig]:
    """Training and evaluation settings of a budget (:data:`BUDGETS`) for a dataset.

    ``paper`` maps dataset -> the RFM config (width, linear layers, batch, lr, weight
    decay) of the 'paper' and 'gpu' budgets. ``features`` are the FitConfig input-feature
    keys of the benchmark (e.g. ``{"features": "octaves"}``), added where the budget says.
    """
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose quick, cpu, paper or gpu")
    b = BUDGETS[budget]
    feats = dict(features or {}) if b.features else {}
    if b.fit is not None:
        return replace(b.fit, **feats), b.eval
    width, layers, batch, lr, wd = paper[name]
    fit = FitConfig(
        steps=1_000_000,
        batch_size=batch,
        hidden=width,
        depth=layers - 1,
        lr=lr,
        weight_decay=wd,
        eval_every=1000,
        **feats,
    )
    return fit, b.eval


def point_log_probs(
    model: nn.Module, space: ManifoldSpace, x: Tensor, steps: int | None, method: str, **kw
) -> Tensor:
    """log p(x) per point (n,), float64, nats."""
    model.eval()
    return log_prob(model, space, x, steps=steps, method=method, **kw).log_prob.double()


def nll(model: nn.Module, space: ManifoldSpace, x: Tensor, steps: int, method: str, **kw) -> float:
    """Mean negative log-likelihood in nats per point."""
    return float(-point_log_probs(model, space, x, steps, method, **kw).mean())


def _split_nll(lp: Tensor, novel: Tensor) -> dict[str, float | None]:
    """Mean NLL over all, novel and duplicated test points (None for an empty part)."""

    def mean(part: Tensor) -> float | None:
        return float(-part.mean()) if part.numel() else None

    return {"all": mean(lp), "novel": mean(lp[novel]), "duplicated": mean(lp[~novel])}


def score_test(
    model: nn.Module,
    space: ManifoldSpace,
    test: Tensor,
    novel: Tensor,
    ev: EvalConfig,
    *,
    rk4: bool = True,
) -> dict:
    """Test NLL of a selected model: Euler ``test_steps`` (all / novel / duplicated) and,
    with ``rk4``, rk4 ``rk4_steps``; with timings."""
    t0 = time.perf_counter()
    lp = point_log_probs(model, space, test, ev.test_steps, ev.method, batch_size=ev.batch_size)
    parts = _split_nll(lp, novel)
    rec = {
        "test_nll": parts["all"],
        "test_nll_novel": parts["novel"],
        "test_nll_duplicated": parts["duplicated"],
        "euler_s": time.perf_counter() - t0,
    }
    if rk4:
        t1 = time.perf_counter()
        lp4 = point_log_probs(model, space, test, ev.rk4_steps, "rk4", batch_size=ev.batch_size)
        parts4 = _split_nll(lp4, novel)
        rec.update(
            test_nll_rk4=parts4["all"],
            test_nll_rk4_novel=parts4["novel"],
            rk4_s=time.perf_counter() - t1,
        )
    return rec


def kde_record(kernel: str, train: Tensor, val: Tensor, test: Tensor, novel: Tensor) -> dict:
    """The validation-tuned kernel estimate's widths and test NLL (all / novel / duplicated)."""
    t0 = time.perf_counter()
    kde = fit_kde(kernel, train, val)
    parts = _split_nll(kde.log_density(test), novel)
    return {
        "kernel": kernel,
        "kappa1": kde.kappa1,
        "kappa2": kde.kappa2,
        "weight": kde.weight,
        "val_nll": kde.val_nll,
        "test_nll": parts["all"],
        "test_nll_novel": parts["novel"],
        "test_nll_duplicated": parts["duplicated"],
        "kde_s": time.perf_counter() - t0,
    }


def run_seed(
    space: ManifoldSpace,
    data: Tensor,
    seed: int,
    fit: FitConfig,
    ev: EvalConfig,
    *,
    dopri_check: bool = False,
    keys: Tensor | None = None,
    kernel: str | None = None,
    trainer: Callable[..., FitResult] = fit_flow,
    rk4: bool = True,
) -> tuple[dict, nn.Module]:
    """One run of the protocol; returns its record and the selected EMA model.

    ``keys`` (n, k) are the raw rows used to count test points duplicating a training point
    (defaults to ``data``). ``kernel`` adds the kernel-density baseline of the same split;
    ``trainer(space, train, cfg, score=...)`` trains (ours, or the peer's pipeline).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    split = random_split_indices(data.shape[0], seed)
    train, val, test = data[split.train], data[split.val], data[split.test]
    cfg = replace(fit, seed=seed)

    def val_score(m: nn.Module) -> float:
        return nll(m, space, val, ev.val_steps, ev.method, batch_size=ev.batch_size)

    res = trainer(space, train, cfg, score=val_score)
    t_train = time.perf_counter() - t0
    novel = novel_mask(space, train, test, ev.novel_radius)
    keys = data if keys is None else keys
    rec = {
        "seed": seed,
        **score_test(res.model, space, test, novel, ev, rk4=rk4),
        "val_nll": res.best_score,
        "best_step": res.best_step,
        "val_history": res.history,
        "dup_share": duplicate_share(keys[split.train], keys[split.test]),
        "novel_share": float(novel.double().mean()),
        "sizes": [len(split.train), len(split.val), len(split.test)],
        "val_indices": split.val.tolist(),
        "test_indices": split.test.tolist(),
        "train_s": t_train,
    }
    if kernel is not None:
        rec["kde"] = kde_record(kernel, train, val, test, novel)
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


def _mean(vals: list[float | None]) -> float | None:
    """Mean of the values that exist (None when none does)."""
    have = [v for v in vals if v is not None]
    return statistics.fmean(have) if have else None


def summarise(
    per_run: list[dict], settings: dict, wall_s: float, peers: list[dict] | None = None
) -> dict:
    """The per-dataset JSON entry: test NLL mean and sample std over runs (Euler), the rk4,
    novel / duplicated and kernel-estimate means, and the peer's runs (when they ran).

    ``peers`` are the peer's records, first seed first. ``peer_flow_matching_test_nll`` and
    ``test_nll_seed0`` compare the first peer seed with ours on that seed; over every scored
    peer seed, ``peer_paired_diff_mean`` / ``_std`` are the mean and sample std of
    (ours - peer) seed by seed (negative: ours lower), so the comparison is paired.
    """
    vals = [r["test_nll"] for r in per_run]
    if not all(math.isfinite(v) for v in vals):
        raise RuntimeError(f"non-finite test NLL in runs: {vals}")
    peers = list(peers or [])
    peer = peers[0] if peers else None
    kde = [r["kde"] for r in per_run if "kde" in r]
    ours = {r["seed"]: r["test_nll"] for r in per_run}
    seed0 = peer["seed"] if peer and "seed" in peer else per_run[0]["seed"]
    scored = [p for p in peers if "test_nll" in p and p["seed"] in ours]
    paired = [(ours[p["seed"]], p["test_nll"]) for p in scored]
    diffs = [o - q for o, q in paired]
    return {
        "test_nll_mean": statistics.fmean(vals),
        "test_nll_std": statistics.stdev(vals) if len(vals) > 1 else None,
        "test_nll_rk4_mean": _mean([r.get("test_nll_rk4") for r in per_run]),
        "test_nll_novel_mean": _mean([r.get("test_nll_novel") for r in per_run]),
        "test_nll_duplicated_mean": _mean([r.get("test_nll_duplicated") for r in per_run]),
        "kde_test_nll_mean": _mean([k["test_nll"] for k in kde]),
        "kde_test_nll_novel_mean": _mean([k["test_nll_novel"] for k in kde]),
        "peer_flow_matching_test_nll": peer.get("test_nll") if peer else None,
        "test_nll_seed0": ours.get(seed0),
        "peer_seeds": [p["seed"] for p in scored],
        "peer_flow_matching_test_nll_mean": _mean([q for _, q in paired]),
        "test_nll_peer_seeds_mean": _mean([o for o, _ in paired]),
        "peer_paired_diff_mean": _mean(diffs),
        "peer_paired_diff_std": statistics.stdev(diffs) if len(diffs) > 1 else None,
        "runs": len(vals),
        "per_run": per_run,
        "peer": peer,
        "peers": peers,
        "wall_s": wall_s,
        "settings": settings,
    }
