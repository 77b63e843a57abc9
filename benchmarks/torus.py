"""Torus benchmark: RNA torsions on T^7 (and protein phi/psi on T^2 when the file exists).

    python -m benchmarks.torus [--dataset rna|general|glycine|proline|prepro|all]
                               [--budget quick|cpu|paper] [--seeds 0 1 2 3 4]

Same protocol as benchmarks/earth.py (Chen & Lipman 2024): angles (deg mod 360) in
radians, uniform prior on [0, 2 pi)^d, random 80/10/10 split per seed, EMA model selected
on validation NLL, test NLL in nats per point. Writes benchmarks/results/torus.{json,md,png}
(PNG: per-angle marginals of test data vs model samples).
"""

from __future__ import annotations

import argparse
import math

import torch

from benchmarks._protocol import RESULTS, budget_config, merge_json, run_dataset
from manifold_fm.data.torus import load_protein, load_rna
from manifold_fm.solvers import sample
from manifold_fm.spaces.torus import FlatTorus

#: published test NLL (mean, std): RFM Table 3, RDM, mixture of power sphericals (MoPS)
PUBLISHED = {
    "RFM": {"rna": (-5.20, 0.067), "general": (1.01, 0.025), "glycine": (1.90, 0.055),
            "proline": (0.15, 0.027), "prepro": (1.18, 0.055)},
    "RDM": {"rna": (-3.70, 0.592), "general": (1.04, 0.012), "glycine": (1.97, 0.012),
            "proline": (0.12, 0.011), "prepro": (1.24, 0.004)},
    "MoPS": {"rna": (4.08, 0.368), "general": (1.15, 0.002), "glycine": (2.08, 0.009),
             "proline": (0.27, 0.008), "prepro": (1.34, 0.019)},
}  # fmt: skip
PROTEIN = {"general": "General", "glycine": "Glycine", "proline": "Proline", "prepro": "Pre-Pro"}
#: RFM configs (width, linear layers, batch, lr, weight decay) for the paper budget
_PAPER = {
    "rna": (512, 6, 8192, 1e-4, 1e-2),
    "general": (512, 4, 4096, 2e-4, 1e-3),
    "glycine": (512, 10, 4096, 1e-4, 1e-3),
    "proline": (512, 4, 4096, 1e-4, 1e-3),
    "prepro": (512, 4, 4096, 1e-4, 1e-3),
}


def load(name: str) -> torch.Tensor:
    """Dataset as float64 angles in [0, 2 pi); protein kinds need torus/protein.tsv."""
    return load_rna() if name == "rna" else load_protein(PROTEIN[name])


def marginals(model, data: torch.Tensor, path, n: int = 3000) -> None:
    """Histogram of each angle: held-out data vs samples of the learned flow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = data.shape[1]
    sp = FlatTorus(d)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        xs = sample(model, sp, n, steps=200, generator=gen, dtype=torch.float32).x
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "chi"] if d == 7 else None
    fig, axes = plt.subplots(1, d, figsize=(2.6 * d, 2.6), squeeze=False)
    bins = torch.linspace(0, 2 * math.pi, 61).numpy()
    for j, ax in enumerate(axes[0]):
        ax.hist(data[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="test data")
        ax.hist(xs[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="model")
        ax.set_title(names[j] if names else f"angle {j}")
        ax.set_xlabel("radians")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(mean, std) -> str:
    return f"{mean:.2f} ± {std:.3f}" if std is not None else f"{mean:.2f} (1 run)"


def write_markdown(results: dict) -> str:
    """torus.md: our rows beside the published ones, settings, wall time."""
    names = [n for n in ["rna", *PROTEIN] if n in results]
    lines = [
        "# Torus density estimation: test NLL in nats per point (lower is better)",
        "",
        "Protocol of Chen & Lipman 2024 (random 80/10/10 split per seed, EMA model selected on",
        "validation NLL, exact divergence, Euler). Mean ± sample std over seeds.",
        "",
        "| method | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    budgets = "/".join(sorted({results[n]["settings"]["budget"] for n in names}))
    row = [_fmt(results[n]["test_nll_mean"], results[n]["test_nll_std"]) for n in names]
    lines.append(f"| **manifold-fm ({budgets} budget)** | " + " | ".join(row) + " |")
    for method, vals in PUBLISHED.items():
        lines.append(
            f"| {method} (published) | " + " | ".join(_fmt(*vals[n]) for n in names) + " |"
        )
    lines += [
        "",
        "| dataset | seeds | dopri5 check | wall s / run (process CPU s) | settings |",
        "|---|---|---|---|---|",
    ]
    for n in names:
        r = results[n]
        chk = next((p for p in r["per_run"] if "test_nll_dopri5" in p), None)
        chk_s = f"{chk['test_nll']:.3f} vs {chk['test_nll_dopri5']:.3f}" if chk else "-"
        per = sum(p["wall_s"] for p in r["per_run"]) / len(r["per_run"])
        cpu = sum(p.get("cpu_s", float("nan")) for p in r["per_run"]) / len(r["per_run"])
        fit = r["settings"]["fit"]
        set_s = (
            f"{r['settings']['budget']}: {fit['steps']} steps, batch {fit['batch_size']}, MLP "
            f"{fit['depth']}x{fit['hidden']}, test Euler {r['settings']['eval']['test_steps']}"
        )
        seeds = [p["seed"] for p in r["per_run"]]
        lines.append(f"| {n} | {seeds} | {chk_s} | {per:.0f} (CPU {cpu:.0f}) | {set_s} |")
    absent = [n for n in PROTEIN if n not in results]
    hw = results[names[0]]["settings"]["hardware"]
    lines += ["", f"Hardware: {hw}", "",
              "Protein datasets (General/Glycine/Proline/Pre-Pro) need MFM_DATA/torus/protein.tsv; "
              f"not run here: {absent}." if absent else "",
              "Training: benchmarks/_fit.py (EMA, val-NLL checkpoint selection)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="rna", choices=["rna", *PROTEIN, "all"])
    ap.add_argument("--budget", default="cpu", choices=["quick", "cpu", "paper"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=None, help="override training steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.budget == "paper" else "cpu")
    names = ["rna", *PROTEIN] if args.dataset == "all" else [args.dataset]
    entries, first_model = {}, None
    for name in names:
        try:
            raw = load(name)
        except FileNotFoundError as err:
            if args.dataset == "all" and name != "rna":
                print(f"{name}: skipped, {err}")
                continue
            raise
        fit, ev = budget_config(name, args.budget, _PAPER)
        if args.steps:
            fit.steps = args.steps
        sp = FlatTorus(raw.shape[1])
        published = {m: v[name] for m, v in PUBLISHED.items()}
        entries[name], models = run_dataset(
            name, sp, raw.float().to(device), raw, fit, ev, args.seeds, args.budget, published
        )
        if name == "rna":
            test_idx = entries[name]["per_run"][0]["test_indices"]
            first_model = (models[0].cpu(), raw[[int(j) for j in test_idx]])
    results = merge_json("torus", entries)
    (RESULTS / "torus.md").write_text(write_markdown(results))
    if first_model is not None and not args.no_png:
        marginals(first_model[0], first_model[1].float(), RESULTS / "torus.png")
    return results


if __name__ == "__main__":
    main()
