"""Command line, CTMC fit-and-score and result writing shared by the text and sequence benchmarks.

Both train a SequenceTransformer CTMC model for a budget of process CPU seconds
(:data:`BUDGET_CLOCK`, so that runs sharing the machine get the compute they ask for and
every model of one run gets the same) with the shared Trainer,
score it by the negative ELBO on the test split, draw ancestral samples, and write
``<name>.json`` / ``.md`` (``<name>_quick`` under ``--quick``) through benchmarks.common.results_io.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from benchmarks.common.results_io import add_output_args, make_meta, write_results
from benchmarks.discrete.fit import FitReport, fit_ctmc
from discrete_fm import CTMCSpace, elbo, sample_ancestral
from discrete_fm.self_condition import two_pass
from discrete_fm.transformer import SequenceTransformer
from manifold_fm.nn import SelfConditioning

__all__ = [
    "BUDGET_CLOCK",
    "add_discrete_args",
    "budget_kw",
    "check_discrete_args",
    "ctmc_net",
    "ctmc_space",
    "fit_and_score",
    "timed_samples",
    "write_discrete_results",
]

#: the clock of every training budget in the text and sequence benchmarks
BUDGET_CLOCK = time.process_time


def add_discrete_args(
    ap: argparse.ArgumentParser,
    *,
    budget_s: float,
    dim: int,
    depth: int,
    lr: float,
    n_t: int,
    samples: int,
    sample_steps: int,
    warmup_steps: int = 0,
) -> None:
    """The options both benchmarks take, with each benchmark's defaults."""
    ap.add_argument(
        "--budget-s", type=float, default=budget_s, help="training CPU seconds per model"
    )
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dim", type=int, default=dim)
    ap.add_argument("--depth", type=int, default=depth)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--n-t", type=int, default=n_t, help="stratified t (or k) per sequence")
    ap.add_argument("--samples", type=int, default=samples)
    ap.add_argument("--sample-steps", type=int, default=sample_steps)
    ap.add_argument("--root", default=None, help="data root (default $MFM_DATA)")
    # faster-learning levers of the CTMC models (defaults: the plain recipe)
    ap.add_argument(
        "--warmup-steps", type=int, default=warmup_steps, help="linear lr warmup (every model)"
    )
    ap.add_argument(
        "--time-sampling", default="uniform", help="training t: uniform | stratified (CTMC)"
    )
    ap.add_argument("--kappa-schedule", default="linear", help="kappa_t: linear | cosine (CTMC)")
    ap.add_argument("--self-condition", action="store_true", help="self-conditioned CTMC models")
    add_output_args(ap)


def check_discrete_args(args: argparse.Namespace) -> None:
    """Refuse bad lever values before any training (ValueError naming option and value)."""
    from manifold_fm.schedules import as_kappa_schedule
    from manifold_fm.train import TrainConfig

    try:
        TrainConfig(warmup_steps=args.warmup_steps, time_sampling=args.time_sampling)
        as_kappa_schedule(args.kappa_schedule)
    except ValueError as err:
        raise ValueError(f"bad lever option: {err}") from err


def budget_kw(args: argparse.Namespace) -> dict:
    """The budget of every model one run trains (``args.budget_s`` CPU seconds of
    :data:`BUDGET_CLOCK`, batch, lr, warmup) and its data generator, seeded ``args.seed``."""
    return {
        "budget_s": args.budget_s,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "generator": torch.Generator().manual_seed(args.seed),
        "clock": BUDGET_CLOCK,
        "warmup_steps": args.warmup_steps,
    }


def ctmc_space(vocab: int, length: int, source: str, args: argparse.Namespace) -> CTMCSpace:
    """The benchmarks' CTMCSpace (per-token mean loss) with the ``--kappa-schedule``."""
    return CTMCSpace(vocab, length, source, args.kappa_schedule, reduction="mean")


def ctmc_net(space: CTMCSpace, args: argparse.Namespace, **net_kw) -> nn.Module:
    """The SequenceTransformer of a CTMC model (self-conditioned under --self-condition)."""
    return SequenceTransformer.for_space(space, self_condition=args.self_condition, **net_kw)


def fit_and_score(
    space: CTMCSpace,
    net: nn.Module,
    train: Tensor,
    test: Tensor,
    args: argparse.Namespace,
    *,
    estimator: str,
    batch_size: int,
):
    """Fit ``net`` on train (n, L) for ``args.budget_s`` CPU s; NELBO of test (m, L) in bits/token.

    The ELBO uses ``args.n_t`` stratified samples per sequence with the given estimator
    ("k": number of masks, "t": time) and the generator seeded ``args.seed + 1``.
    Returns the :class:`FitReport` and the ELBO result.
    """
    rep: FitReport = fit_ctmc(
        space,
        net,
        train,
        budget_s=args.budget_s,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        warmup_steps=args.warmup_steps,
        time_sampling=args.time_sampling,
        self_condition=args.self_condition,
        clock=BUDGET_CLOCK,
    )
    e = elbo(
        two_pass(net, space) if args.self_condition else net,
        space,
        test,
        n_t=args.n_t,
        estimator=estimator,
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(args.seed + 1),
    )
    return rep, e


def timed_samples(
    net: nn.Module,
    space: CTMCSpace,
    n: int,
    steps: int,
    generator: torch.Generator,
    self_condition: bool = False,
) -> tuple[Tensor, float]:
    """n ancestral samples (n, L) in ``steps`` steps and the wall seconds they took
    (a self-conditioned model is fed its previous estimate)."""
    if self_condition:
        net = SelfConditioning(net, space)
    t0 = time.perf_counter()
    with torch.no_grad():
        xs = sample_ancestral(net, space, n, steps=steps, generator=generator).x
    return xs, time.perf_counter() - t0


def write_discrete_results(
    name: str,
    res: dict,
    args: argparse.Namespace,
    argv: list[str] | None,
    t0: float,
    markdown: Callable[[dict], str],
    texts: Mapping[str, str] | None = None,
) -> dict:
    """Write ``<name>[_quick].json`` / ``.md`` (and texts), print the Markdown; return the doc."""
    stem = f"{name}_quick" if args.quick else name
    meta = make_meta(name, seeds=[args.seed], wall_s=round(time.perf_counter() - t0, 1), argv=argv)
    texts = {f"{stem}{suffix}": body for suffix, body in (texts or {}).items()}
    doc = write_results(stem, res, meta, out_dir=args.out_dir, markdown=markdown, texts=texts)
    print(markdown(doc))
    return doc
