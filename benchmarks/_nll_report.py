"""Command line, run loop and report of the test-NLL benchmarks (earth on S^2, torus on T^d).

Both follow benchmarks/_protocol.py per dataset; what differs is declared in an
:class:`NLLBenchmark`: the datasets and their loader, the published rows, the paper-budget
configs, the Markdown notes and the figure. Results merge into ``<name>.json`` through
benchmarks.results_io, so datasets can be run one at a time; ``<name>.md`` is rendered
from the merged document.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from benchmarks._protocol import budget_config, run_dataset
from benchmarks.results_io import add_output_args, make_meta, write_results
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["NLLBenchmark", "Run", "pyplot", "run_benchmark"]


@dataclass
class Run:
    """One dataset's outcome: its JSON entry, the selected model per seed, its raw rows."""

    entry: dict
    models: list[nn.Module]
    raw: Tensor


@dataclass
class NLLBenchmark:
    """What a test-NLL benchmark declares; :func:`main` does the rest.

    ``load(name) -> (space, data, keys)``: points (n, *event_shape) and the raw rows (n, k)
    used to count test points duplicating a training point. ``published`` maps method ->
    dataset -> (mean, std); ``paper`` dataset -> RFM (width, layers, batch, lr, wd).
    ``notes(results)`` are the Markdown lines after the hardware line; ``figure(runs)``
    returns the PNG writer of this run (or None). ``optional`` datasets are skipped under
    ``--dataset all`` when their file is missing.
    """

    name: str
    doc: str
    datasets: list[str]
    default: str
    load: Callable[[str], tuple[ManifoldSpace, Tensor, Tensor]]
    published: dict[str, dict[str, tuple[float, float]]]
    paper: dict[str, tuple[int, int, int, float, float]]
    title: str
    intro: list[str]
    std_digits: int
    notes: Callable[[dict], list[str]]
    figure: Callable[[dict[str, Run]], Callable[[Path], None] | None]
    optional: frozenset[str] = frozenset()


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(mean: float, std: float | None, digits: int) -> str:
    return f"{mean:.2f} ± {std:.{digits}f}" if std is not None else f"{mean:.2f} (1 run)"


def markdown(bench: NLLBenchmark, results: dict) -> str:
    """<name>.md: our row beside the published ones, then per-dataset details."""
    names = [n for n in bench.datasets if n in results]
    d = bench.std_digits
    lines = [
        bench.title,
        "",
        *bench.intro,
        "",
        "| method | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    budgets = "/".join(sorted({results[n]["settings"]["budget"] for n in names}))
    row = [_fmt(results[n]["test_nll_mean"], results[n]["test_nll_std"], d) for n in names]
    lines.append(f"| **manifold-fm ({budgets} budget)** | " + " | ".join(row) + " |")
    for method, vals in bench.published.items():
        cells = [_fmt(*vals[n], d) for n in names]
        lines.append(f"| {method} (published) | " + " | ".join(cells) + " |")
    lines += ["", "| dataset | seeds | test points duplicating a training point | dopri5 check "
              "(seed, Euler vs dopri5) | wall s / run (process CPU s) | settings |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for n in names:
        r = results[n]
        runs = r["per_run"]
        seeds = [p["seed"] for p in runs]
        dup = sum(p["dup_share"] for p in runs) / len(runs)
        chk = next((p for p in runs if "test_nll_dopri5" in p), None)
        chk_s = (
            f"seed {chk['seed']}: {chk['test_nll']:.3f} vs {chk['test_nll_dopri5']:.3f} "
            f"(tol {chk['dopri5_tol']:g})" if chk else "-"
        )  # fmt: skip
        per = sum(p["wall_s"] for p in runs) / len(runs)
        cpu = sum(p.get("cpu_s", float("nan")) for p in runs) / len(runs)
        s, fit = r["settings"], r["settings"]["fit"]
        set_s = (
            f"{s['budget']}: {fit['steps']} steps, batch {fit['batch_size']}, MLP "
            f"{fit['depth']}x{fit['hidden']}, lr {fit['lr']}, EMA {fit['ema_decay']}, "
            f"test Euler {s['eval']['test_steps']} steps"
        )
        lines.append(
            f"| {n} | {seeds} | {100 * dup:.1f}% | {chk_s} | {per:.0f} (CPU {cpu:.0f}) | {set_s} |"
        )
    hw = results[names[0]]["settings"]["hardware"]
    lines += ["", f"Hardware: {hw}", "", *bench.notes(results)]
    return "\n".join(lines) + "\n"


def run_benchmark(bench: NLLBenchmark, argv: list[str] | None = None) -> dict:
    """Parse the command line, run the datasets, merge and write JSON, Markdown, PNG."""
    ap = argparse.ArgumentParser(description=bench.doc.split("\n")[0])
    ap.add_argument("--dataset", default=bench.default, choices=[*bench.datasets, "all"])
    ap.add_argument("--budget", default="cpu", choices=["quick", "cpu", "paper"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=None, help="override training steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-png", action="store_true")
    add_output_args(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.budget == "paper" else "cpu")
    names = list(bench.datasets) if args.dataset == "all" else [args.dataset]
    t0 = time.perf_counter()
    runs: dict[str, Run] = {}
    for name in names:
        try:
            space, data, keys = bench.load(name)
        except FileNotFoundError as err:
            if args.dataset == "all" and name in bench.optional:
                print(f"{name}: skipped, {err}")
                continue
            raise
        fit, ev = budget_config(name, args.budget, bench.paper)
        if args.steps:
            fit.steps = args.steps
        published = {m: v[name] for m, v in bench.published.items()}
        entry, models = run_dataset(
            name, space, data.float().to(device), keys, fit, ev, args.seeds, args.budget,
            published,
        )  # fmt: skip
        runs[name] = Run(entry, [m.cpu() for m in models], keys)
    meta = make_meta(bench.name, seeds=args.seeds, wall_s=time.perf_counter() - t0, argv=argv)
    doc = write_results(
        bench.name,
        {n: r.entry for n, r in runs.items()},
        meta,
        out_dir=args.out_dir,
        markdown=lambda d: markdown(bench, d),
        figure=None if args.no_png else bench.figure(runs),
        merge=True,
    )
    results = {k: v for k, v in doc.items() if k != "meta"}
    print(json.dumps({k: round(v["test_nll_mean"], 3) for k, v in results.items()}))
    return doc
