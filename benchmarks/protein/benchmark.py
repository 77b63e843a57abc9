"""Protein backbone benchmark: FrameNet on SE(3)^N, samples scored beside real chains.

``python -m benchmarks.protein [--budget cpu|gpu|smoke] [--minutes M] [--out-dir D]
[--run-dir R]``

Data: the shipped 190 chains (``MFM_DATA/proteins/pdb``), split by a fixed-seed
permutation into ``n_held`` held-out chains and the rest for training
(:mod:`benchmarks.protein.data`). Training: the standard Trainer on ``BackboneSE3``
(x1 form, FrameFlow weighting, self-conditioning, auxiliary backbone losses), random
crops, checkpointed in ``--run-dir`` with a learning curve (:mod:`benchmarks.protein.train`).
Sampling: Euler with the rotation-rate schedule (exp rate 10) and the final jump.
Scored sets at each length: samples, held-out real crops, prior draws, a plain random CA
walk; metrics in :mod:`manifold_fm.proteins.metrics`, pages in :mod:`benchmarks.protein.report`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.budgeted import budget_main
from benchmarks.common.results_io import make_meta, write_results
from benchmarks.common.timing import time_blocks
from benchmarks.protein.budgets import BUDGETS, Budget
from benchmarks.protein.data import (
    dssp_agreement,
    frames_to_atoms,
    prior_atoms,
    real_crops,
    split,
    walk_atoms,
)
from benchmarks.protein.report import METRICS, figure, markdown
from benchmarks.protein.train import draw, make_space, train_model
from manifold_fm.proteins import load_proteins, shipped_proteins_dir, write_pdb
from manifold_fm.proteins.metrics import (
    UNAVAILABLE,
    dihedrals,
    dssp_labels,
    rama_histogram,
    set_metrics,
)

SEED = 0
SETS = ("samples", "real", "prior", "random_walk")


def _log(msg: str) -> None:
    print(msg, flush=True)


def _mean_over_lengths(rows: list[dict]) -> dict:
    out = {}
    for key in METRICS:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(vals)) if vals else None
    return out


def evaluate(model, b: Budget, train_set, held, out_dir: Path) -> dict:
    """Score samples, real crops, prior and random walk at each length; write sample PDBs."""
    rng = np.random.default_rng(SEED + 2)
    ref_ca = [train_set.chain(i)[:, 1].double().numpy() for i in range(b.novelty_ref)]
    train_atoms = [train_set.chain(i).double().numpy() for i in range(len(train_set))]
    rama_ref = rama_histogram(np.concatenate([dihedrals(a) for a in train_atoms]))
    per_length: dict[str, dict] = {s: {} for s in SETS}
    example, rama_pts = {}, {"samples": [], "real": []}
    pdb_dir = out_dir / "protein_samples"
    for k, length in enumerate(b.lengths):
        t0 = time.perf_counter()
        frames = draw(model, b, length, b.per_length, SEED + 100 + k)
        sets = {
            "samples": frames_to_atoms(frames),
            "real": real_crops(held, length, b.per_length, rng),
            "prior": prior_atoms(make_space(b, length), b.per_length, SEED + 200 + k),
            "random_walk": walk_atoms(length, b.per_length, SEED + 300 + k),
        }
        for name, atoms in sets.items():
            row = set_metrics(atoms, rama_ref=rama_ref, novelty_ref=ref_ca) if atoms else None
            per_length[name][str(length)] = row
        for i in range(min(b.pdb_per_length, frames.shape[0])):
            write_pdb(frames[i], pdb_dir / f"len{length}_{i}.pdb")
        lab = dssp_labels(sets["samples"][0])
        example[str(length)] = {
            "ca": sets["samples"][0][:, 1].round(3).tolist(),
            "dssp": "" if lab is None else "".join(lab),
        }
        for name in rama_pts:
            ang = np.concatenate([dihedrals(a) for a in sets[name]]) if sets[name] else []
            rama_pts[name] += np.round(ang, 1).tolist()
        s = per_length["samples"][str(length)]
        _log(
            f"length {length}: samples mad {s['ca_ca_mad']:.3f} clash {s['clash_rate']:.4f} "
            f"rg {s['rg_ratio']:.2f} ({time.perf_counter() - t0:.0f} s)"
        )
    overall = {n: _mean_over_lengths([r for r in per_length[n].values() if r]) for n in SETS}
    return {**overall, "per_length": per_length, "examples": example, "rama_points": rama_pts}


def run(
    budget: str, minutes: float | None, out_dir: Path, run_dir: Path, argv, root: str | None = None
) -> dict:
    """Train (or reload), evaluate and write ``protein.json`` / ``.md`` / ``.png`` and PDBs."""
    b = BUDGETS[budget]
    if minutes is not None:
        b = replace(b, minutes=float(minutes))
    torch.set_num_threads(b.threads)
    t0 = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    src = shipped_proteins_dir(root)
    chains = load_proteins(src, cache=run_dir / "chains.pt")
    train_set, held = split(chains, b.n_held, SEED)
    _log(
        f"protein [{budget}]: {len(chains)} chains, {len(train_set)} train / {len(held)} "
        f"held-out; missing: {UNAVAILABLE or 'none'}"
    )
    dssp_check = dssp_agreement(chains, src.parent / "dssp_ts50")
    _log(f"DSSP check on TS50: {dssp_check}")
    out = train_model(train_set, b, run_dir, SEED, log=_log)
    model, plan = out["trainer"].ema_model, out["plan"]
    t_train = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = evaluate(model, b, train_set, held, out_dir)
    timing = time_blocks({"draw": lambda: draw(model, b, 100, 1, SEED)}, blocks=3, warmup=0)
    t_eval = time.perf_counter() - t1
    payload = {
        "budget": budget,
        **{k: res[k] for k in SETS},
        "per_length": res["per_length"],
        "learning_curve": plan["curve"],
        "examples": res["examples"],
        "rama_points": res["rama_points"],
        "dssp_validation": dssp_check,
        "unavailable": UNAVAILABLE,
        "settings": b.as_dict(),
        "params": plan["params"],
        "train_steps": plan["steps"],
        "train_wall_s": plan["train_wall_s"],
        "probe_step_s": plan["probe_step_s"],
        "final_loss": plan.get("final_loss"),
        "n_train_chains": len(train_set),
        "n_held_chains": len(held),
        "novelty_reference": f"first {b.novelty_ref} training chains (full length, CA)",
        "rama_reference": "phi/psi of all training chains; Jensen-Shannon (nats), 36x36 bins",
        "sample_s_per_backbone_100": timing["draw"].summary(),
        "wall_s_train_phase": round(t_train, 2),
        "wall_s_eval": round(t_eval, 2),
    }
    meta = make_meta("protein", seeds=[SEED], wall_s=round(time.perf_counter() - t0, 2), argv=argv)
    doc = write_results(
        "protein",
        payload,
        meta,
        out_dir=out_dir,
        markdown=markdown,
        figure=lambda p: figure(payload, p),
    )
    _log(f"wrote {out_dir / 'protein.json'}")
    return doc


def main(argv: list[str] | None = None) -> dict:
    return budget_main("protein", __doc__, BUDGETS, run, argv)


if __name__ == "__main__":
    main()
