"""Each protein training lever measured on the learning curve of the benchmark's own run.

``python -m benchmarks.protein.levers [--budget cpu|smoke] [--levers no_aux ...]
[--chunks K] [--main-run-dir R] [--out-dir D]``

An ablation switches one lever off and retrains from scratch with everything else of the
benchmark run fixed: same seed, data order, model, and the same step count, so the same
warm-up and cosine learning-rate schedule as the run of ``python -m benchmarks.protein``
(read from its ``plan.json``). It follows the first ``K`` of that run's curve chunks and
samples the same ``curve_n x curve_length`` backbones with the same seeds at each, so
every row compares against the main run's row at the identical step. Levers:

* ``no_aux``: auxiliary backbone-atom and pairwise-distance losses off (weights 0);
* ``no_self_condition``: no self-conditioning in training or sampling;
* ``independent``: independent coupling instead of Kabsch-aligned minibatch OT.

Writes ``protein_levers.{json,md,png}``; each ablation checkpoints in its own folder
beside the main run and resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common.results_io import add_output_args, make_meta, write_results
from benchmarks.protein.benchmark import SEED
from benchmarks.protein.budgets import BUDGETS, Budget
from benchmarks.protein.data import split
from benchmarks.protein.report import METRICS
from benchmarks.protein.train import train_model
from manifold_fm.proteins import load_proteins, shipped_proteins_dir

#: lever name -> (what switching it off means, the budget entries it changes)
LEVERS: dict[str, tuple[str, dict]] = {
    "no_aux": (
        "auxiliary backbone-atom and pairwise-distance losses off",
        {"space": {"aux_atom_weight": 0.0, "aux_pair_weight": 0.0}},
    ),
    "no_self_condition": (
        "self-conditioning off in training and sampling",
        {"self_condition": False},
    ),
    "independent": (
        "independent coupling instead of Kabsch-aligned minibatch OT",
        {"coupling": "independent"},
    ),
}
CURVE_KEYS = ("ca_ca_mad", "ca_ca_within_0.1", "clash_rate", "rg_ratio", "helix", "strand")


def lever_budget(budget: Budget, lever: str) -> Budget:
    """``budget`` with one lever switched off (nested ``space`` options merged)."""
    if lever not in LEVERS:
        raise ValueError(f"unknown lever {lever!r}; choose from {sorted(LEVERS)}")
    changes = {
        key: {**getattr(budget, key), **val} if isinstance(val, dict) else val
        for key, val in LEVERS[lever][1].items()
    }
    return replace(budget, **changes)


def _main_plan(run_dir: Path) -> dict:
    path = run_dir / "plan.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python -m benchmarks.protein --run-dir {run_dir}` first "
            "(the ablations follow its step count and compare with its curve)"
        )
    return json.loads(path.read_text())


def _row(row: dict) -> dict:
    return {
        "step": row["step"],
        "train_wall_s": row["train_wall_s"],
        **{k: row.get(k) for k in CURVE_KEYS},
    }


def markdown(doc: dict) -> str:
    """protein_levers.md: one table per lever, main run and ablation at the same steps."""
    lines = [
        "# Protein levers on the learning curve",
        "",
        f"Each ablation retrains from scratch with one lever off and everything else of the "
        f"`{doc['budget']}` protein run fixed (seed {doc['meta']['seeds'][0]}, data order, "
        f"model, {doc['steps']} planned steps so the same warm-up and cosine schedule), for "
        f"the first {doc['chunks']} of its {doc['curve_points']} curve chunks. Metrics: "
        f"{doc['curve_n']} samples of {doc['curve_length']} residues, same sampling seeds.",
        "",
    ]
    for lever, rows in doc["levers"].items():
        lines += [
            f"## {lever}: {doc['descriptions'][lever]}",
            "",
            "| run | step | " + " | ".join(CURVE_KEYS) + " |",
            "|---|---:|" + "---:|" * len(CURVE_KEYS),
        ]
        for main, abl in zip(doc["main_curve"], rows):
            for name, r in (("all levers on", main), (lever, abl)):
                vals = ["n/a" if r[k] is None else f"{r[k]:.3f}" for k in CURVE_KEYS]
                lines.append(f"| {name} | {r['step']} | " + " | ".join(vals) + " |")
        lines.append("")
    lines.append(f"Wall: {doc['meta']['wall_s']:.0f} s; hardware {doc['meta']['hardware']}.")
    return "\n".join(lines) + "\n"


def figure(doc: dict, path: Path) -> None:
    """CA-CA MAD, clash rate and Rg ratio against step: main run vs each ablation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("ca_ca_mad", "clash_rate", "rg_ratio", "helix")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.0))
    runs = {"all levers on": doc["main_curve"], **doc["levers"]}
    for ax, key in zip(axes, keys):
        for name, rows in runs.items():
            ax.plot([r["step"] for r in rows], [r[key] for r in rows], "o-", label=name)
        ax.set(xlabel="step", title=key)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    budget: str,
    levers: list[str],
    chunks: int,
    main_dir: Path,
    out_dir: Path,
    argv,
    root: str | None = None,
) -> dict:
    """Train each ablation on the main run's plan; write ``protein_levers.*``."""
    b = BUDGETS[budget]
    bad = [lv for lv in levers if lv not in LEVERS]
    if bad:
        raise ValueError(f"unknown lever(s) {bad}; choose from {sorted(LEVERS)}")
    if not 1 <= chunks <= b.curve_points:
        raise ValueError(f"--chunks must be in 1..{b.curve_points}, got {chunks}")
    plan = _main_plan(main_dir)
    torch.set_num_threads(b.threads)
    t0 = time.perf_counter()
    chains = load_proteins(shipped_proteins_dir(root), cache=main_dir / "chains.pt")
    train_set, _ = split(chains, b.n_held, SEED)
    out: dict[str, list] = {}
    for lever in levers:
        print(f"lever {lever}: {plan['steps']} planned steps, {chunks} chunks", flush=True)
        res = train_model(
            train_set,
            lever_budget(b, lever),
            main_dir.parent / f"{main_dir.name}_{lever}",
            SEED,
            steps=plan["steps"],
            chunks=chunks,
            log=lambda m: print(m, flush=True),
        )
        out[lever] = [_row(r) for r in res["plan"]["curve"][:chunks]]
    plan = _main_plan(main_dir)  # read again: the main run may have been training meanwhile
    last = plan["steps"] * chunks // b.curve_points
    main_rows = [r for r in plan["curve"] if r["step"] <= last]
    if len(main_rows) < chunks:
        raise ValueError(
            f"{main_dir}: the main run has {len(main_rows)} of the {chunks} curve points to "
            "compare with; let it train further and rerun (the ablations are checkpointed)"
        )
    payload = {
        "budget": budget,
        "steps": plan["steps"],
        "chunks": chunks,
        "curve_points": b.curve_points,
        "curve_n": b.curve_n,
        "curve_length": b.curve_length,
        "main_curve": [_row(r) for r in main_rows],
        "levers": out,
        "descriptions": {lv: LEVERS[lv][0] for lv in levers},
        "metrics": [k for k in CURVE_KEYS if k in METRICS],
    }
    meta = make_meta(
        "protein_levers", seeds=[SEED], wall_s=round(time.perf_counter() - t0, 2), argv=argv
    )
    return write_results(
        "protein_levers",
        payload,
        meta,
        out_dir=out_dir,
        markdown=markdown,
        figure=lambda p: figure({**payload, "meta": meta}, p),
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    ap.add_argument("--levers", nargs="+", default=["no_aux", "no_self_condition"])
    ap.add_argument("--chunks", type=int, default=2, help="curve chunks to follow")
    ap.add_argument("--main-run-dir", default=None, help="default runs/protein_<budget>")
    ap.add_argument("--root", default=None, help="data root (default $MFM_DATA)")
    add_output_args(ap)
    args = ap.parse_args(argv)
    main_dir = Path(args.main_run_dir or f"runs/protein_{args.budget}")
    return run(args.budget, args.levers, args.chunks, main_dir, Path(args.out_dir), argv, args.root)


if __name__ == "__main__":
    main()
