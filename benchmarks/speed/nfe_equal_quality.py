"""Does OT pay? NFE needed for reference quality, per coupling and solver, on S^2.

    python -m benchmarks.speed.nfe_equal_quality [--quick] [--steps 3000] [--out-dir DIR]

On the demo's S^2 vMF mixture (exact density: manifold_fm.data.synthetic.demo_mixture) one flow is
trained per coupling (``independent``, ``ot`` = blocked exact, ``sinkhorn``) with the same
budget, model, data and seed. For each coupling:

* reference NLL = -mean log q(x) on test points by Euler with 1000 steps (float64);
* noise floor of MMD^2: MMD^2 between two independent true-sample sets of the evaluation
  size, over ``floor_draws`` pairs: mean and standard deviation; a sample set is "at the
  floor" when its MMD^2 to fresh true samples is <= mean + 2 std;
* for euler, midpoint and rk4 the smallest step count on a doubling-ish grid whose test
  NLL is within 0.01 nats of the reference and whose samples are at the floor, reported
  as NFE (model evaluations per trajectory: steps x stages); dopri5 (atol = rtol = 1e-5)
  reports its own NFE of the likelihood solve and of sampling, and whether it meets both.

The row ``nfe_equal_quality_s2`` (ours: the fewest NFE of rk4 / dopri5 with an OT
coupling; peer: the same with the independent coupling) is written into ``speed.json``
of ``--out-dir`` (existing rows and meta kept; speed.md re-rendered by
benchmarks.speed.markdown), and the full table to ``nfe_equal_quality.md``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from benchmarks.common.results_io import add_output_args, make_meta, read_results, write_results
from benchmarks.speed import benchmark as speed
from manifold_fm import Sphere
from manifold_fm.data.synthetic import demo_mixture
from manifold_fm.metrics import mmd2
from manifold_fm.nn import build_mlp
from manifold_fm.solvers import log_prob, sample
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["main"]

COUPLINGS = ("independent", "ot", "sinkhorn")
STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}
NLL_TOL = 0.01


def _floor(target, n: int, draws: int, gen: torch.Generator) -> tuple[float, float]:
    space = Sphere(2)
    vals = []
    for _ in range(draws):
        a, b = target.sample(n, generator=gen).float(), target.sample(n, generator=gen).float()
        vals.append(mmd2(space, a, b))
    mean = sum(vals) / draws
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / max(draws - 1, 1))
    return mean, std


def _train(coupling: str, train: torch.Tensor, args) -> torch.nn.Module:
    """The EMA model of one training run with ``coupling`` (same seed, data and budget)."""
    space = Sphere(2)
    torch.manual_seed(args.seed)
    model = build_mlp(space, hidden=128, depth=3)
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=2e-3,
        warmup_steps=min(100, args.steps // 10),
        ema_decay=0.995,
        seed=args.seed,
        log_every=max(1, args.steps // 4),
        progress=False,
        device="cpu",
        coupling=coupling,
    )
    trainer = Trainer(space, model, train, cfg)
    trainer.fit()
    return trainer.ema_model


def _quality(model, test, fresh, method, steps, seed) -> tuple[float, float, int, int]:
    """(test NLL, MMD^2 of samples to fresh true samples, NFE of sampling, of log_prob).

    ``steps``: fixed steps of the solver (an adaptive method chooses its own: pass 1).
    """
    space = Sphere(2)
    lp = log_prob(model, space, test, steps=steps, method=method, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    res = sample(model, space, fresh.shape[0], steps=steps, method=method, generator=g)
    return -float(lp.log_prob.mean()), mmd2(space, res.x, fresh), res.nfe, lp.nfe


def _search(model, test, fresh, ref_nll, floor, grid, seed) -> dict:
    """Per solver: smallest NFE meeting both criteria (None if no grid point does)."""
    out: dict = {}
    for method, stages in STAGES.items():
        out[method] = {"nfe": None}
        for steps in grid:
            nll, mmd, _, _ = _quality(model, test, fresh, method, steps, seed)
            if abs(nll - ref_nll) <= NLL_TOL and mmd <= floor:
                out[method] = {"nfe": steps * stages, "steps": steps, "nll": nll, "mmd2": mmd}
                break
    nll, mmd, nfe_sample, nfe_lp = _quality(model, test, fresh, "dopri5", 1, seed)
    out["dopri5"] = {
        "nfe": nfe_sample,
        "nfe_log_prob": nfe_lp,
        "nll": nll,
        "mmd2": mmd,
        "meets": abs(nll - ref_nll) <= NLL_TOL and mmd <= floor,
    }
    return out


def _fewest(res: dict) -> float | None:
    """Fewest NFE of rk4 / dopri5 that reach reference quality (None: neither does)."""
    cands = [res["rk4"]["nfe"]] + ([res["dopri5"]["nfe"]] if res["dopri5"]["meets"] else [])
    cands = [c for c in cands if c is not None]
    return float(min(cands)) if cands else None


def _markdown(table: dict, floor: tuple[float, float], args) -> str:
    lines = [
        "# NFE for equal quality on S^2 (demo vMF mixture)",
        "",
        f"Training: {args.steps} steps, batch {args.batch_size}, seed {args.seed}"
        f"{' (quick)' if args.quick else ''}; {args.n_eval} test points / samples.",
        f"Noise floor MMD^2 (two true-sample sets): {floor[0]:.3g} +- {floor[1]:.3g}; "
        f"criteria: |NLL - NLL_euler1000| <= {NLL_TOL} nats and MMD^2 <= mean + 2 std.",
        "",
        "| coupling | NLL euler-1000 | euler NFE | midpoint NFE | rk4 NFE | dopri5 NFE"
        " (sample / log_prob, meets) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for c, r in table.items():
        d = r["dopri5"]
        cells = [str(r[m]["nfe"]) if r[m]["nfe"] is not None else "not reached" for m in STAGES]
        lines.append(
            f"| {c} | {r['ref_nll']:.4f} | {' | '.join(cells)} | "
            f"{d['nfe']} / {d['nfe_log_prob']}, {d['meets']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budget: an end-to-end check")
    ap.add_argument("--steps", type=int, default=3000, help="training steps per coupling")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--n-eval", type=int, default=2000, help="test points and samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    add_output_args(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.n_eval = min(args.steps, 60), min(args.n_eval, 128)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    target, gen = demo_mixture(), torch.Generator().manual_seed(args.seed)
    train = target.sample(20_000, generator=gen).float()
    test = target.sample(args.n_eval, generator=gen).float()
    fresh = target.sample(args.n_eval, generator=gen).float()
    floor = _floor(target, args.n_eval, 3 if args.quick else 10, gen)
    grid = (1, 2, 4, 8) if args.quick else (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100, 250)
    table: dict = {}
    for coupling in COUPLINGS:
        model = _train(coupling, train, args)
        ref = log_prob(model, Sphere(2), test, steps=1000, method="euler", dtype=torch.float64)
        ref_nll = -float(ref.log_prob.mean())
        res = _search(model, test, fresh, ref_nll, floor[0] + 2 * floor[1], grid, args.seed)
        table[coupling] = {"ref_nll": ref_nll, **res}
        print(coupling, {m: res[m]["nfe"] for m in res}, f"ref NLL {ref_nll:.4f}")
    ot = [v for v in (_fewest(table["ot"]), _fewest(table["sinkhorn"])) if v is not None]
    ours, peer = (min(ot) if ot else None), _fewest(table["independent"])
    flat = {f"nfe_{m}_{c}": table[c][m]["nfe"] for c in COUPLINGS for m in (*STAGES, "dopri5")}
    row = {
        "name": "nfe_equal_quality_s2",
        "unit": "NFE",
        "ours": ours,
        "peer": "same recipe, independent coupling (fewest NFE of rk4 / dopri5)",
        "peer_value": peer,
        "ratio": peer / ours if ours and peer else None,
        "topic": "nfe_equal_quality",
        "threads": args.threads,
        "mmd2_floor": floor[0],
        "mmd2_floor_std": floor[1],
        "train_steps": args.steps,
        "quick": args.quick,
        "command": "python -m benchmarks.speed.nfe_equal_quality " + " ".join(argv or []),
        **flat,
    }
    old = read_results("speed", args.out_dir)
    wall = round(time.perf_counter() - t0, 2)
    if old is None:  # a fresh folder: a speed.json holding this row only
        old = {"rows": [], "errors": {}, "quick": args.quick, "topics": [], "threads": args.threads}
        old["meta"] = make_meta(
            "speed",
            seeds=[args.seed],
            wall_s=wall,
            argv=argv,
            module="benchmarks.speed.nfe_equal_quality",
        )
    payload = {k: v for k, v in old.items() if k != "meta"}
    payload["rows"] = [r for r in old["rows"] if r["name"] != row["name"]] + [row]
    md = _markdown(table, floor, args)
    write_results(
        "speed",
        payload,
        old["meta"],
        out_dir=args.out_dir,
        markdown=speed.markdown,
        texts={"nfe_equal_quality.md": md},
    )
    print(md)
    return {"row": row, "table": table}


if __name__ == "__main__":
    main()
