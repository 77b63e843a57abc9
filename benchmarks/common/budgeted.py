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

__all__ = ["budget_main", "probe_step_s"]


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
