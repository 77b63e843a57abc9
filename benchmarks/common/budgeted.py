"""What the time-budgeted training benchmarks (mnist, protein) share: the command line
(``--budget``, ``--minutes``, ``--root``, ``--run-dir``, output folder) and the timed probe
that turns a budget in minutes into a fixed step count."""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common.results_io import add_output_args
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["budget_main", "probe_step_s", "run_config"]


def run_config(
    b,
    steps: int,
    run_dir: Path | None,
    seed: int,
    *,
    log_every: int,
    checkpoints: int,
    **options,
) -> TrainConfig:
    """The TrainConfig of a budgeted run of ``steps`` steps with budget ``b`` (its ``batch``,
    ``lr``, ``ema`` decay, ``device``).

    Cosine lr after a linear warm-up over a tenth of the steps (at most 100), grad clip 1;
    with a ``run_dir``, ``checkpoints`` checkpoints there and resume from them (None: a
    probe that writes nothing). ``options`` are the benchmark's other TrainConfig keys.
    """
    return TrainConfig(
        steps=steps,
        batch_size=b.batch,
        lr=b.lr,
        warmup_steps=min(100, steps // 10),
        lr_schedule="cosine",
        grad_clip=1.0,
        ema_decay=b.ema,
        device=b.device,
        seed=seed,
        log_every=log_every,
        progress=False,
        out_dir=None if run_dir is None else str(run_dir),
        ckpt_every=max(1, steps // checkpoints) if run_dir is not None else 0,
        resume=run_dir is not None,
        **options,
    )


def probe_step_s(space, model, data, config: Callable[[int], TrainConfig], k: int) -> float:
    """Seconds per training step of a copy of ``model``, timed over ``k`` steps after two
    warm-up steps; ``config(steps)`` is the run's TrainConfig for that many steps."""
    tr = Trainer(space, copy.deepcopy(model), data, config(k + 2))
    tr.fit(until=2)
    t0 = time.perf_counter()
    tr.fit(until=k + 2)
    return (time.perf_counter() - t0) / k


def budget_main(name: str, doc: str, budgets: dict, run: Callable, argv: list[str] | None):
    """Parse the shared options and call ``run(budget, minutes, out_dir, run_dir, argv,
    root)``; the run folder defaults to ``runs/<name>_<budget>``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--budget", choices=sorted(budgets), default="cpu")
    ap.add_argument("--minutes", type=float, default=None, help="training minutes")
    ap.add_argument("--root", default=None, help="data root (default $MFM_DATA)")
    ap.add_argument(
        "--run-dir", default=None, help=f"checkpoint folder (default runs/{name}_<budget>)"
    )
    add_output_args(ap)
    args = ap.parse_args(argv)
    if args.minutes is not None and not args.minutes > 0:
        ap.error(f"--minutes must be > 0, got {args.minutes}")
    run_dir = Path(args.run_dir or f"runs/{name}_{args.budget}")
    return run(args.budget, args.minutes, Path(args.out_dir), run_dir, argv, args.root)
