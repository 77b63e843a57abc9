"""Command line, run loop and report of the test-NLL benchmarks (earth on S^2, torus on T^d).

Both follow benchmarks/nll/protocol.py per dataset; what differs is declared in an
:class:`NLLBenchmark`: the datasets and their loader, the published rows, the paper-budget
configs, the Markdown notes and the figure. Results merge into ``<name>.json`` through
benchmarks.common.results_io, so datasets can be run one at a time; ``<name>.md`` is rendered
from the merged document.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from benchmarks.common.results_io import add_output_args, make_meta, write_results
from benchmarks.nll.protocol import budget_config
from benchmarks.nll.runs import RunCache, run_dataset
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
    #: FitConfig input-feature keys of the cpu/gpu/quick budgets (manifold_fm.nn.features)
    features: dict = field(default_factory=dict)
    #: kernel of the density baseline (manifold_fm.metrics.kde): 'vmf' or 'von_mises'
    kernel: str = "vmf"
    #: flow_matching manifold of the peer ('sphere', 'torus'); None: no peer
    peer_manifold: str | None = None
    #: compute of the published configs: dataset -> parameters x steps x batch
    published_compute: dict[str, float] = field(default_factory=dict)


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(mean: float, std: float | None, digits: int) -> str:
    return f"{mean:.2f} ± {std:.{digits}f}" if std is not None else f"{mean:.2f} (1 run)"


def _opt(v: float | None) -> str:
    return f"{v:.2f}" if v is not None else "-"


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def markdown(bench: NLLBenchmark, results: dict) -> str:
    """<name>.md: our row beside the published ones, the honest columns, per-dataset details."""
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
    ev = results[names[0]]["settings"]["eval"]
    euler, rk4 = f"Euler {ev['test_steps']}", f"rk4 {ev.get('rk4_steps', '-')}"
    lines.append(f"| **manifold-fm ({budgets} budget), {euler}** | " + " | ".join(row) + " |")
    for label, key in (
        (f"manifold-fm, {rk4}", "test_nll_rk4_mean"),
        ("validation-tuned kernel density estimate", "kde_test_nll_mean"),
        (
            "flow_matching pipeline, equal budget (mean over the peer seeds)",
            "peer_flow_matching_test_nll_mean",
        ),
        (f"manifold-fm on the peer seeds, {euler}", "test_nll_peer_seeds_mean"),
    ):
        lines.append(f"| {label} | " + " | ".join(_opt(results[n].get(key)) for n in names) + " |")
    pair = [
        (results[n].get("peer_paired_diff_mean"), results[n].get("peer_paired_diff_std"))
        for n in names
    ]
    diffs = ["-" if m is None else _fmt(m, sd, d) for m, sd in pair]
    lines.append(
        "| ours - peer, paired by seed (mean ± std; < 0: ours lower) | " + " | ".join(diffs) + " |"
    )
    for method, vals in bench.published.items():
        cells = [_fmt(*vals[n], d) for n in names]
        lines.append(f"| {method} (published) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Honest columns (means over seeds; novel: no training point within the "
        "radius, geodesic distance; Euler 1000 unless marked rk4):",
        "",
        "| dataset | novel test share | flow novel | flow duplicated | flow novel (rk4) | "
        "KDE novel | KDE duplicated | KDE widths (seed 0: kappa1, kappa2, w) | "
        "our compute (params x steps x batch) | published compute |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        r = results[n]
        runs = r["per_run"]
        share = sum(p.get("novel_share", 0.0) for p in runs) / len(runs)
        kd = [p["kde"] for p in runs if "kde" in p]
        k_dup = [k["test_nll_duplicated"] for k in kd if k["test_nll_duplicated"] is not None]
        rk4n = [p["test_nll_rk4_novel"] for p in runs if p.get("test_nll_rk4_novel") is not None]
        widths = f"{kd[0]['kappa1']:.3g}, {kd[0]['kappa2']:.3g}, {kd[0]['weight']}" if kd else "-"
        fit = r["settings"]["fit"]
        ours = r.get("params", 0) * fit["steps"] * fit["batch_size"]
        pub = bench.published_compute.get(n)
        lines.append(
            f"| {n} | {100 * share:.0f}% | {_opt(r.get('test_nll_novel_mean'))} | "
            f"{_opt(r.get('test_nll_duplicated_mean'))} | "
            f"{_opt(sum(rk4n) / len(rk4n) if rk4n else None)} | "
            f"{_opt(r.get('kde_test_nll_novel_mean'))} | "
            f"{_opt(sum(k_dup) / len(k_dup) if k_dup else None)} | {widths} | {ours:.2g} | "
            f"{f'{pub:.2g} ({pub / ours:.0f}x)' if pub and ours else '-'} |"
        )
    seeds_s = [f"{n} {results[n].get('peer_seeds', [])}" for n in names]
    lines += ["", "Peer seeds (the paired rows above): " + "; ".join(seeds_s) + "."]
    skipped = [
        f"{n}: {results[n]['peer']['skipped']}"
        for n in names
        if (results[n].get("peer") or {}).get("skipped")
    ]
    if skipped:
        lines += ["", "Peer not run: " + "; ".join(skipped) + "."]
    lines += [
        "",
        "| dataset | seeds | test points duplicating a training point | dopri5 check "
        "(seed, Euler 1000 / rk4 500 / dopri5) | wall s / run (process CPU s) | settings |",
        "|---|---|---|---|---|---|",
    ]
    for n in names:
        r = results[n]
        runs = r["per_run"]
        seeds = [p["seed"] for p in runs]
        dup = sum(p["dup_share"] for p in runs) / len(runs)
        chk = next((p for p in runs if "test_nll_dopri5" in p), None)
        chk_s = (
            f"seed {chk['seed']}: {chk['test_nll']:.3f} / {_opt(chk.get('test_nll_rk4'))} / "
            f"{chk['test_nll_dopri5']:.3f} (tol {chk['dopri5_tol']:g})"
            if chk
            else "-"
        )
        per = sum(p["wall_s"] for p in runs) / len(runs)
        cpu = sum(p.get("cpu_s", float("nan")) for p in runs) / len(runs)
        s, fit = r["settings"], r["settings"]["fit"]
        feats = fit.get("features", "none")
        set_s = (
            f"{s['budget']}: {fit['steps']} steps, batch {fit['batch_size']}, MLP "
            f"{fit['depth']}x{fit['hidden']}, features {feats}, lr {fit['lr']}, "
            f"EMA {fit['ema_decay']}, test Euler {s['eval']['test_steps']} / rk4 "
            f"{s['eval'].get('rk4_steps', '-')} steps"
        )
        lines.append(
            f"| {n} | {seeds} | {100 * dup:.1f}% | {chk_s} | {per:.0f} (CPU {cpu:.0f}) | {set_s} |"
        )
    hw = results[names[0]]["settings"]["hardware"]
    lines += [
        "",
        "Scorers: Euler 1000 = fixed-step Euler with projection, 1000 steps, exact "
        "divergence (the literature's scorer, kept for comparability; optimistic for "
        "sharp models); rk4 500 = geometric rk4, 500 steps; dopri5 = adaptive, float64, "
        "at the tolerance shown (seed 0 only). The peer is flow_matching's Riemannian "
        "pipeline (its manifold, GeodesicProbPath, CondOTScheduler, its loss) training "
        "the same MLP at the same budget, scored with our log_prob (Euler 1000).",
        "",
        f"Hardware: {hw}",
        "",
        *bench.notes(results),
    ]
    return "\n".join(lines) + "\n"


def run_benchmark(bench: NLLBenchmark, argv: list[str] | None = None) -> dict:
    """Parse the command line, run (or read from the run folder) the datasets, merge and
    write JSON, Markdown, PNG."""
    ap = argparse.ArgumentParser(description=bench.doc.split("\n")[0])
    ap.add_argument(
        "--dataset", nargs="+", default=[bench.default], choices=[*bench.datasets, "all"]
    )
    ap.add_argument("--budget", default="cpu", choices=["quick", "cpu", "paper", "gpu"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=None, help="override training steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-png", action="store_true")
    ap.add_argument("--no-peer", action="store_true", help="skip the flow_matching peer")
    ap.add_argument(
        "--peer-seeds", type=int, default=1, help="run the peer on the first K seeds (default 1)"
    )
    ap.add_argument(
        "--run-dir", default=None, help="cache of finished runs (default runs/<name>_<budget>)"
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="only assemble the report from the run folder (all runs cached)",
    )
    ap.add_argument(
        "--no-report", action="store_true", help="only fill the run folder; write no results file"
    )
    add_output_args(ap)
    args = ap.parse_args(argv)
    if not 1 <= args.peer_seeds <= len(args.seeds):
        ap.error(f"--peer-seeds {args.peer_seeds}: choose 1 to {len(args.seeds)} (the seeds run)")
    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available() and args.budget in ("paper", "gpu")
    device = torch.device("cuda" if gpu else "cpu")
    names = list(bench.datasets) if "all" in args.dataset else list(args.dataset)
    cache = RunCache(args.run_dir or Path("runs") / f"{bench.name}_{args.budget}")
    t0 = time.perf_counter()
    runs: dict[str, Run] = {}
    for name in names:
        try:
            space, data, keys = bench.load(name)
        except FileNotFoundError as err:
            if "all" in args.dataset and name in bench.optional:
                print(f"{name}: skipped, {err}")
                continue
            raise
        fit, ev = budget_config(name, args.budget, bench.paper, bench.features)
        if args.steps:
            fit = replace(fit, steps=args.steps)
        published = {m: v[name] for m, v in bench.published.items()}
        entry, models = run_dataset(
            name,
            space,
            data.float().to(device),
            keys,
            fit,
            ev,
            args.seeds,
            args.budget,
            published,
            cache=cache,
            kernel=bench.kernel,
            report_only=args.report_only,
            peer_manifold=None if args.no_peer else bench.peer_manifold,
            peer_seeds=args.peer_seeds,
        )
        entry["params"] = _params(models[0])
        runs[name] = Run(entry, [m.cpu() for m in models], keys)
    if args.no_report:
        return {n: r.entry for n, r in runs.items()}
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
