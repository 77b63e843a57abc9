"""Learning curves of the test-NLL benchmarks: validation NLL against training step.

The Earth and torus benchmarks select each seed's EMA model on validation NLL every
``eval_every`` steps and keep the history in ``per_run[i]["val_history"]`` (and the peer's
in ``peers[i]["val_history"]``) of benchmarks/results/earth.json and torus.json. This script
reads those committed files -- it trains nothing -- and draws one panel per dataset: every
seed of ours, their mean, and the flow_matching peer's seeds at equal budget, so whether a budget
stopped while validation NLL was still falling can be seen at a glance.

    python -m benchmarks.nll.curves            # -> benchmarks/results/nll_curves.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common.results_io import RESULTS, atomic_write, read_results
from benchmarks.nll.report import pyplot

__all__ = ["CurveDataError", "curves", "main", "plot_curves"]


class CurveDataError(ValueError):
    """A results file lacks the validation history a learning curve needs."""


def _history(run: dict, where: str) -> tuple[list[int], list[float]]:
    hist = run.get("val_history")
    if not hist:
        raise CurveDataError(f"{where}: no 'val_history' (rerun the benchmark to record it)")
    steps, values = zip(*hist, strict=True)
    return [int(s) for s in steps], [float(v) for v in values]


def curves(doc: dict, source: str) -> dict[str, dict]:
    """Per dataset of a results document: ``{"seeds": {seed: (steps, nll)}, "peers": {...}}``.

    ``peers`` (same form) is empty where the document has no scored peer run. Raises
    :class:`CurveDataError` naming the file, dataset and seed whose history is missing.
    """
    out: dict[str, dict] = {}
    for name, entry in doc.items():
        if name == "meta":
            continue
        runs = entry.get("per_run")
        if not runs:
            raise CurveDataError(f"{source}: dataset {name!r} has no 'per_run' records")
        seeds = {r["seed"]: _history(r, f"{source}: {name} seed {r['seed']}") for r in runs}
        peers = entry.get("peers") or ([entry["peer"]] if entry.get("peer") else [])
        scored = [p for p in peers if "skipped" not in p]
        hist = {p["seed"]: _history(p, f"{source}: {name} peer seed {p['seed']}") for p in scored}
        out[name] = {"seeds": seeds, "peers": hist}
    return out


def plot_curves(panels: dict[str, dict], path: Path) -> Path:
    """One panel per dataset: seeds (thin), their mean (bold), the peer (dashed)."""
    plt = pyplot()
    n = len(panels)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, p) in zip(axes.flat, panels.items(), strict=False):
        for steps, vals in p["seeds"].values():
            ax.plot(steps, vals, color="tab:blue", alpha=0.35, lw=1)
        grid = sorted({s for steps, _ in p["seeds"].values() for s in steps})
        common = [s for s in grid if all(s in st for st, _ in p["seeds"].values())]
        if common:
            mean = [
                sum(v[st.index(s)] for st, v in p["seeds"].values()) / len(p["seeds"])
                for s in common
            ]
            label = f"ours, mean of {len(p['seeds'])} seeds"
            ax.plot(common, mean, color="tab:blue", lw=2.2, label=label)
        for i, (_, (steps, vals)) in enumerate(sorted(p["peers"].items())):
            label = f"flow_matching peer, seeds {sorted(p['peers'])}" if i == 0 else None
            ax.plot(steps, vals, color="tab:orange", ls="--", lw=1.4, label=label)
        ax.set_title(name)
        ax.set_xlabel("training step")
        ax.set_ylabel("validation NLL (nats)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("EMA model's validation NLL during training (Euler, selection scorer)")
    fig.tight_layout()
    return atomic_write(Path(path), lambda p: fig.savefig(p, dpi=110, format="png"))


def main(argv: list[str] | None = None) -> Path:
    """Read earth.json and torus.json from ``--results`` and write the curve figure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=str(RESULTS), help="folder of the results files")
    ap.add_argument("--benchmarks", nargs="+", default=["earth", "torus"])
    ap.add_argument("--out", default=None, help="PNG path (default <results>/nll_curves.png)")
    args = ap.parse_args(argv)
    panels: dict[str, dict] = {}
    for name in args.benchmarks:
        doc = read_results(name, args.results)
        if doc is None:
            raise FileNotFoundError(f"{Path(args.results) / (name + '.json')} does not exist")
        panels.update(curves(doc, f"{name}.json"))
    out = plot_curves(panels, Path(args.out or Path(args.results) / "nll_curves.png"))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
