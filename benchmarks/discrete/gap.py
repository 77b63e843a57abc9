"""Gap against compute: AR vs masked CTMC on text, and the MSA pair-r curve, per CPU budget.

At one budget the masked model sits far behind the same-size AR
model; whether the gap is compute is read off a curve. Each (task, model) is one run
continued across budgets (CPU seconds of training, 1 thread), cached and resumable
(:mod:`benchmarks.discrete.curve_runs`), so one process per model can run at once and a killed
one resumes::

    python -m benchmarks.discrete.gap --task text --model ar   --budgets 240 480 960 1920
    python -m benchmarks.discrete.gap --task text --model mask --budgets 240 480 960 1920
    python -m benchmarks.discrete.gap --task DHFR --model mask --budgets 150 300 600 1200
    python -m benchmarks.discrete.gap --report

Networks, data and recipes are those of ``benchmarks.discrete.text`` and
``benchmarks.discrete.sequences``.
Text: test bits/char (AR exact; mask NELBO, k-form). MSAs: pair r of samples (mask:
ancestral; AR: ancestral) against the train-vs-test ceiling. ``--report`` writes
``gap_curve`` (list of {budget_s, ar_bpc, mask_nelbo_bpc}) and the gap's trend per doubling
into text.json, ``curve`` (list of {budget_s, pair_r, pair_r_ceiling[, ar_pair_r]}) per MSA
into sequences.json, re-renders their Markdown and draws text_gap.png / sequences_curve.png.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from benchmarks.discrete.curve_runs import cached_results, run_curve
from benchmarks.discrete.gap_report import report
from benchmarks.discrete.jobs import build_job, text_splits
from discrete_fm import elbo, sample_ancestral
from discrete_fm.metrics import connected_correlations, pearson, site_frequencies
from manifold_fm.nn import SelfConditioning

__all__ = ["RECIPES", "main", "make_job"]

#: the benchmarks' recipes: text as benchmarks.discrete.text, MSAs as benchmarks.discrete.sequences
RECIPES = {
    "text": dict(
        dim=128,
        depth=4,
        heads=4,
        batch_size=32,
        lr=1e-3,
        seed=0,
        n_t=8,
        eval_chunks=128,
        length=128,
    ),
    "msa": dict(
        dim=64,
        depth=3,
        heads=4,
        batch_size=32,
        lr=2e-3,
        seed=0,
        n_t=4,
        samples=512,
        sample_steps=64,
    ),
}
MSAS = ("DHFR", "RF00162")
#: --quick: seconds-long smoke runs (own run folder, never reported)
QUICK = dict(dim=32, depth=1, heads=4, n_t=2, eval_chunks=8, samples=32, sample_steps=8)


def _text_eval(model: str, ev: torch.Tensor, base: dict):
    def evaluate(obj) -> dict:  # the ARModel, or the CTMCJob
        if model == "ar":
            return {"bpc": float(obj.nll_bits(ev).sum() / ev.numel())}
        g = torch.Generator().manual_seed(base["seed"] + 1)
        e = elbo(
            obj.posterior(),
            obj.space,
            ev,
            n_t=base["n_t"],
            estimator="k",
            batch_size=64,
            generator=g,
        )
        return {"nelbo_bpc": e.bits_per_token, "nelbo_bpc_stderr": e.stderr}

    return evaluate


def _msa_eval(model: str, train: torch.Tensor, test: torch.Tensor, q: int, base: dict):
    c_test = connected_correlations(test, q)
    ceiling = pearson(connected_correlations(train, q), c_test)

    def evaluate(job) -> dict:
        g = torch.Generator().manual_seed(base["seed"] + 2)
        n, L = base["samples"], test.shape[1]
        with torch.no_grad():
            if model == "ar":  # job is the ARModel here
                xs = job.sample(n, L, g)
                bits = float(job.nll_bits(test).mean() / L)
            else:
                net = SelfConditioning(job.net, job.space) if job.self_condition else job.net
                xs = sample_ancestral(net, job.space, n, steps=base["sample_steps"], generator=g).x
                g1 = torch.Generator().manual_seed(base["seed"] + 1)
                e = elbo(
                    job.posterior(),
                    job.space,
                    test,
                    n_t=base["n_t"],
                    estimator="k",
                    batch_size=128,
                    generator=g1,
                )
                bits = e.bits_per_token
        return {
            "pair_r": pearson(connected_correlations(xs, q), c_test),
            "pair_r_ceiling": ceiling,
            "single_r": pearson(site_frequencies(xs, q), site_frequencies(test, q)),
            "bits_per_position": bits,
        }

    return evaluate


def make_job(
    task: str, model: str, root: str | None, levers: dict | None = None, quick: bool = False
):
    """The curve job of ``model`` ("ar" | "mask") on ``task`` ("text" or an MSA name)."""
    levers = dict(levers or {})
    recipe = lambda kind: {**RECIPES[kind], **(QUICK if quick else {})}  # noqa: E731
    if task == "text":
        from discrete_fm.data.text import load_text

        base = recipe("text")
        corpus = load_text("tinyshakespeare", root)
        train, _, ev = text_splits(corpus, base["length"], base["eval_chunks"])
        ev_fn, V, L = _text_eval(model, ev, base), corpus.vocab_size, base["length"]
    elif task in MSAS:
        from discrete_fm.data.msa import load_msa

        base = {k: v for k, v in recipe("msa").items() if k != "eval_chunks"}
        msa = load_msa(task, root)
        train, test = msa.split("train"), msa.split("test")
        ev_fn, V, L = _msa_eval(model, train, test, msa.q, base), msa.q, msa.length
    else:
        raise ValueError(f"task must be 'text' or one of {MSAS}, got {task!r}")
    base["task"], base["quick"] = task, quick
    return build_job(model, V, L, train, base, levers, ev_fn)


def main(argv: list[str] | None = None) -> dict | list:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="text", help="'text' or an MSA name (DHFR, RF00162)")
    ap.add_argument("--model", choices=("ar", "mask"), default="mask")
    ap.add_argument("--budgets", type=float, nargs="+", default=[240, 480, 960, 1920])
    ap.add_argument("--slice-s", type=float, default=60.0, help="CPU s between checkpoints")
    ap.add_argument("--run-dir", default="runs/discrete_gap")
    ap.add_argument("--root", default=None, help="data root (default $MFM_DATA)")
    ap.add_argument("--report", action="store_true", help="write the curves into results")
    ap.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    ap.add_argument("--quick", action="store_true", help="tiny model and evaluation (smoke)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.report:
        return report(Path(args.run_dir), args.out_dir, RECIPES, MSAS, cached_results)
    if any(not math.isfinite(b) or b <= 0 for b in args.budgets):
        raise SystemExit(f"--budgets must be positive seconds, got {args.budgets}")
    job = make_job(args.task, args.model, args.root, quick=args.quick)
    folder = Path(args.run_dir) / ("quick" if args.quick else "") / args.task / args.model
    out = run_curve(folder, args.budgets, job, slice_s=args.slice_s)
    for d in out:
        print({k: v for k, v in d.items() if not isinstance(v, dict)})
    return out


if __name__ == "__main__":
    main()
