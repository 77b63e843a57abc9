"""Measure one training lever on validation NLL (seed 0), for the cpu budget's choice.

    python -m benchmarks.nll.levers --dataset volcano --features octaves --steps 4000

One run of the protocol's training (benchmarks/common/fit.py) on the seed-0 split of an Earth
or RNA set, scored on the validation split only (Euler with projection, ``--val-steps``);
the test split is not touched. Prints one JSON line: settings, best validation NLL, its
step, the validation history, the wall and process CPU seconds of training and the wall
seconds of one test-size Euler 1000 pass, so the budget's per-run time can be projected.
benchmarks/results/earth_levers.md records the lines measured.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import torch

from benchmarks.common.fit import FitConfig, fit_flow
from benchmarks.nll.protocol import nll
from manifold_fm.data.earth import EARTH_DATASETS, load_earth
from manifold_fm.data.splits import random_split_indices
from manifold_fm.data.torus import load_rna
from manifold_fm.spaces.sphere import Sphere
from manifold_fm.spaces.torus import FlatTorus


def main(argv: list[str] | None = None) -> dict:
    """Train once with the given levers; print and return the validation record."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, choices=[*EARTH_DATASETS, "rna"])
    ap.add_argument("--features", default="none")
    ap.add_argument("--octaves", type=int, default=8)
    ap.add_argument("--harmonics", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--val-steps", type=int, default=100)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.dataset == "rna":
        data = load_rna().float()
        space = FlatTorus(data.shape[1])
    else:
        space, data = Sphere(2), load_earth(args.dataset).float()
    split = random_split_indices(data.shape[0], 0)
    train, val = data[split.train], data[split.val]
    cfg = FitConfig(
        steps=args.steps,
        batch_size=args.batch,
        hidden=args.hidden,
        depth=args.depth,
        lr=args.lr,
        eval_every=args.eval_every,
        features=args.features,
        octaves=args.octaves,
        harmonics=args.harmonics,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit_flow(space, train, cfg, score=lambda m: nll(m, space, val, args.val_steps, "euler"))
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    nll(res.model, space, val, 1000, "euler")
    t_val1000 = (time.perf_counter() - t1) * len(split.test) / len(split.val)
    rec = {
        "dataset": args.dataset,
        "fit": {k: v for k, v in asdict(cfg).items() if k != "seed"},
        "val_nll": round(res.best_score, 3),
        "best_step": res.best_step,
        "history": [(s, round(v, 3)) for s, v in res.history],
        "train_s": round(t_train, 1),
        "train_cpu_s": round(c_train, 1),
        "euler1000_test_s": round(t_val1000, 1),
    }
    print(json.dumps(rec), flush=True)
    return rec


if __name__ == "__main__":
    main()
