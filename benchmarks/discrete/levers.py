"""Faster-learning levers of the masked text model, each measured at equal CPU budget.

The masked model's recipe (lr, warmup, time sampling, kappa
schedule, size, batch, self-conditioning) is picked from measurements, not folklore. Each
lever is one cached, resumable run of the mask model of ``benchmarks.discrete.text`` with a
few options changed (:mod:`benchmarks.discrete.curve_runs`; the same jobs as
``benchmarks.discrete.gap``), trained for the same CPU seconds and scored by the NELBO
(k-form) on the same test chunks::

    python -m benchmarks.discrete.levers --budget 480                 # every lever in LEVERS
    python -m benchmarks.discrete.levers --budget 480 --levers baseline stratified
    python -m benchmarks.discrete.levers --budget 480 --lever wu3:lr=3e-3,warmup_steps=300
    python -m benchmarks.discrete.levers --budget 480 --report        # levers into text.json

Levers run one after the other in one process; run two processes with disjoint
``--levers`` to use two cores. ``lr_cosine`` decays the lr to 0 at the step count the
budget allows, measured once by a timed probe and stored in the run folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common.results_io import RESULTS, read_results, write_results
from benchmarks.discrete.curve_runs import cached_results, run_curve
from benchmarks.discrete.gap import make_job
from benchmarks.discrete.jobs import split_levers

__all__ = ["LEVERS", "main", "parse_lever"]

#: name -> options changed from the plain recipe (benchmarks.discrete.gap RECIPES["text"]: dim
#: 128, depth 4, batch 32, lr 1e-3 constant, no warmup, t ~ U[0, 1), linear kappa, ce loss);
#: benchmarks.discrete.text's defaults are the best lever measured at 240 s, depth2_warmup_lr2e-3
LEVERS: dict[str, dict] = {
    "baseline": {},
    "warmup_lr2e-3": {"lr": 2e-3, "warmup_steps": 200},
    "warmup_lr3e-3": {"lr": 3e-3, "warmup_steps": 200},
    "stratified_t": {"time_sampling": "stratified"},
    "kappa_cosine": {"schedule": "cosine"},
    "lr_cosine": {"lr_schedule": "cosine"},
    "depth2": {"depth": 2},
    "width64": {"dim": 64},
    "width192": {"dim": 192},
    "batch16": {"batch_size": 16},
    "batch64": {"batch_size": 64},
    "self_condition": {"self_condition": True},
    "elbo_loss": {"loss": "elbo"},
    # the two best single levers together (the text benchmark's recipe)
    "depth2_warmup_lr2e-3": {"depth": 2, "lr": 2e-3, "warmup_steps": 200},
}


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_lever(spec: str) -> tuple[str, dict]:
    """``NAME:key=value,key=value`` -> (NAME, options); values are JSON or strings."""
    name, sep, rest = spec.partition(":")
    if not sep or not name or not rest:
        raise ValueError(f"--lever wants NAME:key=value[,key=value...], got {spec!r}")
    opts = {}
    for item in rest.split(","):
        key, eq, val = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--lever {name}: {item!r} is not key=value")
        opts[key] = _value(val)
    split_levers(opts)  # unknown keys are named here, before any training
    return name, opts


def _cosine_steps(folder: Path, budget: float, root: str | None, opts: dict, quick: bool):
    """Steps the budget allows (timed probe of 20 steps, process CPU), stored once."""
    path = folder / "probe.json"
    if path.is_file():
        return json.loads(path.read_text())["steps"]
    probe = make_job("text", "mask", root, {**opts, "lr_schedule": "constant"}, quick=quick)
    probe.train(0.01)  # warm-up
    t0, s0 = time.process_time(), probe.trainer.step
    while probe.trainer.step - s0 < 20:
        probe.train(0.01)
    step_s = (time.process_time() - t0) / (probe.trainer.step - s0)
    steps = max(int(budget / step_s), 1)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"steps": steps, "probe_step_s": step_s}) + "\n")
    return steps


def _report(run_dir: Path, budget: float, out_dir: str | None) -> dict:
    from benchmarks.discrete import text

    rows = []
    for folder in sorted(p for p in run_dir.glob("*") if p.is_dir()):
        settings = json.loads((folder / "settings.json").read_text())
        for d in cached_results(folder):
            if d["budget_s"] == budget:
                rows.append(
                    {
                        "lever": folder.name,
                        "options": settings["levers"],
                        "budget_s": budget,
                        "steps": d["steps"],
                        "nelbo_bpc": d["nelbo_bpc"],
                    }
                )
    if not rows:
        raise FileNotFoundError(f"no lever results at {budget:g} s under {run_dir}")
    out = Path(out_dir or RESULTS)
    doc = read_results("text", out)
    meta = doc.pop("meta")
    doc["levers"] = sorted(rows, key=lambda r: r["nelbo_bpc"])
    doc["levers_best"] = doc["levers"][0]["lever"]
    doc["levers_settings"] = {
        "command": "python -m benchmarks.discrete.levers",
        "budget_s": budget,
        "clock": "process CPU seconds",
    }
    return write_results("text", doc, meta, out_dir=out, markdown=text._markdown)


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=480.0, help="CPU seconds per lever")
    ap.add_argument("--levers", nargs="+", default=list(LEVERS), help="names in LEVERS")
    ap.add_argument("--lever", action="append", default=[], help="NAME:key=value,... (custom)")
    ap.add_argument("--slice-s", type=float, default=60.0)
    ap.add_argument("--run-dir", default="runs/discrete_levers")
    ap.add_argument("--root", default=None, help="data root (default $MFM_DATA)")
    ap.add_argument("--report", action="store_true", help="write the levers into text.json")
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--quick", action="store_true", help="tiny model and evaluation (smoke)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not args.budget > 0:
        raise ValueError(f"--budget must be > 0 CPU seconds, got {args.budget!r}")
    unknown = [n for n in args.levers if n not in LEVERS]
    if unknown:
        raise ValueError(f"unknown lever(s) {unknown}; known: {list(LEVERS)}")
    todo = {n: LEVERS[n] for n in args.levers} | dict(parse_lever(s) for s in args.lever)
    run_dir = Path(args.run_dir) / ("quick" if args.quick else "") / f"{args.budget:g}s"
    if args.report:
        return _report(run_dir, args.budget, args.out_dir)
    results = {}
    for name, opts in todo.items():
        folder = run_dir / name
        if opts.get("lr_schedule") == "cosine" and "steps" not in opts:
            opts = {
                **opts,
                "steps": _cosine_steps(folder, args.budget, args.root, opts, args.quick),
            }
        job = make_job("text", "mask", args.root, opts, quick=args.quick)
        results[name] = run_curve(folder, [args.budget], job, slice_s=args.slice_s)[0]
        print(name, opts, {k: results[name][k] for k in ("nelbo_bpc", "steps", "cpu_s")})
    return results


if __name__ == "__main__":
    main()
