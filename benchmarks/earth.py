"""Earth benchmark on S^2: volcano, earthquake, flood, fire (Chen & Lipman 2024 protocol).

    python -m benchmarks.earth [--dataset volcano|earthquake|flood|fire|all]
                               [--budget quick|cpu|paper] [--seeds 0 1 2 3 4]

lat/lon -> unit vectors, uniform prior on S^2, per seed its own random 80/10/10 split
(indices recorded), EMA model selected on validation NLL, test NLL in nats per point
(Euler with projection, 1000 steps, exact divergence), mean +- std over seeds, published
rows beside ours, share of test points duplicating a training point, a dopri5 cross-check
of the first run. Writes benchmarks/results/earth.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from benchmarks._protocol import RESULTS, budget_config, merge_json, run_dataset
from manifold_fm.data.earth import EARTH_DATASETS, latlon_to_xyz, load_earth, load_earth_latlon
from manifold_fm.likelihood import log_prob
from manifold_fm.spaces.sphere import Sphere

#: published test NLL (mean, std) per method and dataset (RFM Table 2 and the papers cited)
PUBLISHED = {
    "RFM": {"volcano": (-7.93, 1.67), "earthquake": (-0.28, 0.08), "flood": (0.42, 0.05),
            "fire": (-1.86, 0.11)},
    "RDM": {"volcano": (-6.61, 0.96), "earthquake": (-0.40, 0.05), "flood": (0.43, 0.07),
            "fire": (-1.38, 0.05)},
    "RSGM": {"volcano": (-4.92, 0.25), "earthquake": (-0.19, 0.07), "flood": (0.45, 0.17),
             "fire": (-1.33, 0.06)},
    "Moser Flow": {"volcano": (-4.21, 0.17), "earthquake": (-0.16, 0.06),
                   "flood": (0.57, 0.10), "fire": (-1.28, 0.05)},
}  # fmt: skip

#: RFM configs (width, linear layers, batch, lr, weight decay) for the paper budget
_PAPER = {
    "volcano": (2048, 12, 8192, 2e-4, 1e-2),
    "earthquake": (2048, 10, 8192, 1e-4, 1e-3),
    "flood": (2048, 7, 16384, 1e-4, 1e-2),
    "fire": (2048, 10, 8192, 5e-4, 1e-2),
}


def density_map(models: dict, path, steps: int = 100) -> None:
    """Learned density exp(log p) on an equirectangular lat/lon map, data overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lon = torch.linspace(-179, 179, 90, dtype=torch.float64)
    lat = torch.linspace(-89, 89, 45, dtype=torch.float64)
    glat, glon = torch.meshgrid(lat, lon, indexing="ij")
    grid = latlon_to_xyz(torch.stack([glat.flatten(), glon.flatten()], -1)).float()
    sp = Sphere(2)
    fig, axes = plt.subplots(2, 2, figsize=(12, 6.5), squeeze=False)
    for ax, (name, model) in zip(axes.flat, models.items()):
        lp = log_prob(model, sp, grid, steps=steps, batch_size=4096).log_prob
        dens = lp.exp().reshape(glat.shape).numpy()
        ax.pcolormesh(lon.numpy(), lat.numpy(), dens, cmap="viridis", shading="auto")
        ll = load_earth_latlon(name).numpy()
        ax.scatter(ll[:, 1], ll[:, 0], s=0.5, c="red", alpha=0.4, linewidths=0)
        ax.set_title(f"{name}: learned density (seed 0), data in red")
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(mean, std) -> str:
    return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f} (1 run)"


def write_markdown(results: dict) -> str:
    """earth.md: our rows beside the published ones, with settings and wall time."""
    names = [n for n in EARTH_DATASETS if n in results]
    lines = [
        "# Earth (S^2) density estimation: test NLL in nats per point (lower is better)",
        "",
        "Protocol of Chen & Lipman 2024: random 80/10/10 split per seed, EMA model selected on",
        "validation NLL, exact divergence, Euler with projection. Mean ± sample std over seeds.",
        "",
        "| method | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    budgets = {results[n]["settings"]["budget"] for n in names}
    row = [_fmt(results[n]["test_nll_mean"], results[n]["test_nll_std"]) for n in names]
    lines.append(
        f"| **manifold-fm ({'/'.join(sorted(budgets))} budget)** | " + " | ".join(row) + " |"
    )
    for method, vals in PUBLISHED.items():
        lines.append(
            f"| {method} (published) | " + " | ".join(_fmt(*vals[n]) for n in names) + " |"
        )
    lines += ["", "| dataset | seeds | test points duplicating a training point | dopri5 check "
              "(seed, Euler vs dopri5) | wall s / run (process CPU s) | settings |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for n in names:
        r = results[n]
        seeds = [p["seed"] for p in r["per_run"]]
        dup = sum(p["dup_share"] for p in r["per_run"]) / len(r["per_run"])
        chk = next((p for p in r["per_run"] if "test_nll_dopri5" in p), None)
        chk_s = (
            f"seed {chk['seed']}: {chk['test_nll']:.3f} vs {chk['test_nll_dopri5']:.3f} "
            f"(tol {chk['dopri5_tol']:g})" if chk else "-"
        )  # fmt: skip
        per = sum(p["wall_s"] for p in r["per_run"]) / len(r["per_run"])
        cpu = sum(p.get("cpu_s", float("nan")) for p in r["per_run"]) / len(r["per_run"])
        s = r["settings"]
        fit = s["fit"]
        set_s = (
            f"{s['budget']}: {fit['steps']} steps, batch {fit['batch_size']}, MLP "
            f"{fit['depth']}x{fit['hidden']}, lr {fit['lr']}, EMA {fit['ema_decay']}, "
            f"test Euler {s['eval']['test_steps']} steps"
        )
        lines.append(
            f"| {n} | {seeds} | {100 * dup:.1f}% | {chk_s} | {per:.0f} (CPU {cpu:.0f}) | {set_s} |"
        )
    hw = next(iter(results[n]["settings"]["hardware"] for n in names))
    lines += ["", f"Hardware: {hw}", "",
              "Published rows: RFM Table 2 (Chen & Lipman 2024); RDM (Huang et al. 2022) reports "
              "an ELBO bound; RSGM (De Bortoli et al. 2022) and Moser Flow as reprinted by RSGM. "
              "Splits differ between papers (none published their indices).",
              "Training: benchmarks/_fit.py (EMA, val-NLL checkpoint selection)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="all", choices=[*EARTH_DATASETS, "all"])
    ap.add_argument("--budget", default="cpu", choices=["quick", "cpu", "paper"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=None, help="override training steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.budget == "paper" else "cpu")
    names = list(EARTH_DATASETS) if args.dataset == "all" else [args.dataset]
    sp = Sphere(2)
    entries, maps = {}, {}
    for name in names:
        fit, ev = budget_config(name, args.budget, _PAPER)
        if args.steps:
            fit.steps = args.steps
        data = load_earth(name).float().to(device)
        published = {m: v[name] for m, v in PUBLISHED.items()}
        entries[name], models = run_dataset(
            name, sp, data, load_earth_latlon(name), fit, ev, args.seeds, args.budget, published
        )
        maps[name] = models[0].cpu()
    results = merge_json("earth", entries)
    (RESULTS / "earth.md").write_text(write_markdown(results))
    if not args.no_png:
        density_map(maps, RESULTS / "earth.png")
    print(json.dumps({k: round(v["test_nll_mean"], 3) for k, v in results.items()}))
    if math.isnan(sum(v["test_nll_mean"] for v in results.values())):
        raise RuntimeError("a NaN test NLL reached the report")
    return results


if __name__ == "__main__":
    main()
