"""Synthetic ground truth: how close does a trained flow get to a known density?

    python -m benchmarks.synthetic [--budget quick|cpu] [--space s2 t2 r2] [--seed 0]

For each space a mixture with an exact log density (manifold_fm.data.synthetic) is
sampled, a flow is trained on it, and on fresh test samples we report

* test NLL  = -mean log q(x)  (q: the model, exact divergence, RK4 100 steps),
* true entropy H = -E log p(x) (Monte Carlo, 200k independent samples),
* gap_nats  = test NLL - H  (the distance to the limit; -> 0 for a perfect model),
* kl_per_point = mean(log p(x) - log q(x)) on the test points (paired estimate of
  KL(p || q) with its standard error).

Writes benchmarks/results/synthetic.{json,md} (benchmarks.common.results_io); entries of spaces
not run are kept.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, replace

import torch

from benchmarks.common.fit import FitConfig, fit_flow
from benchmarks.common.results_io import add_output_args, make_meta, write_results
from manifold_fm.data.synthetic import (
    default_rd_mixture,
    default_s2_mixture,
    default_so3_mixture,
    default_t2_mixture,
)
from manifold_fm.solvers import log_prob
from manifold_fm.spaces import Euclidean, FlatTorus, Sphere
from manifold_fm.spaces.so3 import SO3

SPACES = {
    "s2": (Sphere(2), default_s2_mixture, "S^2: 4 von Mises-Fisher, kappa 8..40"),
    "t2": (FlatTorus(2), default_t2_mixture, "T^2: 3 wrapped normals (one across the seam)"),
    "r2": (Euclidean(2), default_rd_mixture, "R^2: 4 isotropic Gaussians"),
    "so3": (SO3(), default_so3_mixture, "SO(3): 3 IGSO3 components, sigma 0.3..0.6"),
}


#: training settings of each budget (the same for every space)
BUDGETS: dict[str, FitConfig] = {
    "quick": FitConfig(steps=500, batch_size=256, hidden=128, depth=4, lr=2e-3),
    "cpu": FitConfig(steps=5000, batch_size=512, hidden=256, depth=4, lr=2e-3),
}


def budget_config(budget: str) -> FitConfig:
    """Training settings of a budget (:data:`BUDGETS`)."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose quick or cpu")
    return BUDGETS[budget]


def run_space(key: str, fit: FitConfig, seed: int, n_train: int, n_test: int) -> dict:
    """Train on samples of the mixture of ``key``; compare with its exact density."""
    space, make, desc = SPACES[key]
    mix = make()
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    train = mix.sample(n_train, generator=gen).float()
    test = mix.sample(n_test, generator=gen).float()
    h_true = mix.entropy(200_000, gen)
    model = fit_flow(space, train, replace(fit, seed=seed)).model
    model.eval()
    t_train = time.perf_counter() - t0
    q = log_prob(model, space, test, steps=100, method="rk4", batch_size=4096).log_prob.double()
    p = mix.log_prob(test.double())
    diff = p - q
    nll = float(-q.mean())
    return {
        "description": desc,
        "test_nll": nll,
        "true_entropy": h_true,
        "gap_nats": nll - h_true,
        "kl_per_point": float(diff.mean()),
        "kl_se": float(diff.std() / math.sqrt(diff.numel())),
        "true_nll_on_test": float(-p.mean()),
        "n_train": n_train,
        "n_test": n_test,
        "seed": seed,
        "train_s": t_train,
        "wall_s": time.perf_counter() - t0,
        "settings": {"fit": asdict(fit), "likelihood": "exact divergence, rk4, 100 steps"},
    }


def write_markdown(doc: dict) -> str:
    """synthetic.md from a synthetic.json document: one row per space."""
    budget, meta = doc["budget"], doc["meta"]
    results = {k: doc[k] for k in SPACES if k in doc}
    lines = [
        "# Synthetic ground truth: test NLL vs the true entropy (nats per point)",
        "",
        f"Last run's budget: {budget}. gap = test NLL - true entropy (Monte Carlo, 200k",
        "samples); KL is the paired per-point estimate mean(log p - log q) on the test points",
        "(± 1 standard error).",
        "Target: gap <= 0.05 nats on S^2 and T^2. No published peer numbers exist",
        "for these exact mixtures; the limit itself (gap 0) is the reference.",
        "",
        "| space | distribution | test NLL | true entropy | gap | KL per point | train s | budget"
        " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        lines.append(
            f"| {key} | {r['description']} | {r['test_nll']:.4f} | {r['true_entropy']:.4f} | "
            f"{r['gap_nats']:.4f} | {r['kl_per_point']:.4f} ± {r['kl_se']:.4f} | "
            f"{r['train_s']:.0f} | {r.get('budget', budget)} |"
        )
    fit = next(iter(results.values()))["settings"]["fit"]
    lines += [
        "",
        f"Training: {fit} (benchmarks/common/fit.py bare loop).",
        f"Hardware: {meta['hardware']}",
        f"Total wall time: {meta['wall_s']:.0f} s",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", default="cpu", choices=["quick", "cpu"])
    ap.add_argument("--space", nargs="+", default=list(SPACES), choices=list(SPACES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=20_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--threads", type=int, default=1)
    add_output_args(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    fit = budget_config(args.budget)
    t0 = time.perf_counter()
    results = {}
    for key in args.space:
        r = run_space(key, fit, args.seed, args.n_train, args.n_test)
        results[key] = r
        print(
            f"{key}: test NLL {r['test_nll']:.4f}, true entropy {r['true_entropy']:.4f}, "
            f"gap {r['gap_nats']:.4f}, KL {r['kl_per_point']:.4f} ± {r['kl_se']:.4f}, "
            f"{r['wall_s']:.0f} s",
            flush=True,
        )
    for k in args.space:
        results[k]["budget"] = args.budget
    meta = make_meta("synthetic", seeds=[args.seed], wall_s=time.perf_counter() - t0, argv=argv)
    return write_results(
        "synthetic",
        {**results, "budget": args.budget},
        meta,
        out_dir=args.out_dir,
        markdown=write_markdown,
        merge=True,
    )


if __name__ == "__main__":
    main()
