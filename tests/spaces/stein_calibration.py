"""Calibration of check_space's prior_stein: its largest |z| over seeds x shipped spaces x dtypes.

Every shipped space's sampler and log_prior describe the same law, so each field's z-score
is (asymptotically) standard normal and the property must pass everywhere: a |z| above
``Z_MAX`` (6) here is a false alarm. The zoo is the union of the spaces of
test_check_space_zoo.py, test_geoopt_zoo.py and test_spaces.py (39 distinct). The full run
is a script:

    PYTHONPATH=. OMP_NUM_THREADS=1 python tests/spaces/stein_calibration.py --seeds 20

It prints the worst |z| per space and overall, of all fields and of the per-direction
fields of stein_axes alone (and, apart, any other property that failed), and exits 1 on a
false alarm of prior_stein. test_stein_calibration.py runs prior_stein alone on two other
seeds (one per dtype) of every space.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import torch

# siblings, importable as top-level modules: this directory is on sys.path when run as a
# script and under pytest's default (prepend) import mode
from test_check_space_zoo import SPACES as CHECK_ZOO
from test_geoopt_zoo import ZOO as GEOOPT_ZOO
from test_spaces import SPACES as SPACES_ZOO

from manifold_fm.testing import check_space
from manifold_fm.testing.context import Ctx
from manifold_fm.testing.properties.prior import Z_MAX, prior_stein


def _zoo() -> dict:
    """name -> constructor, one entry per distinct space (by repr) of the three zoos."""
    out, seen = {}, set()
    candidates = [*(("check/" + k, v) for k, v in CHECK_ZOO.items())]
    candidates += [("geoopt/" + k, v[0]) for k, v in GEOOPT_ZOO.items()]
    candidates += [("spaces/" + k, v) for k, v in SPACES_ZOO.items()]
    for name, make in candidates:
        key = repr(make())
        if key not in seen:
            seen.add(key)
            out[name] = make
    return out


ZOO = _zoo()
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def worst_z(name: str, seed: int, dtype: str, n: int = 32) -> tuple[float, str, list[str]]:
    """(largest |z| of prior_stein, its reason, the other failed properties) of one
    check_space run (the whole run, so prior_stein sees the generator as users do)."""
    report = check_space(ZOO[name](), n=n, dtype=DTYPES[dtype], seed=seed, raise_on_fail=False)
    res = report["prior_stein"]
    others = [r.name for r in report.failed if r.name != "prior_stein"]
    return float(res.max_error), res.reason, others


def per_direction_z(reason: str) -> float:
    """Largest |z| of the per-direction fields, read from prior_stein's reason line."""
    tail = reason.split("per-direction fields")[-1]
    return max((abs(float(z)) for z in re.findall(r"z=([-+]?[0-9.]+|[-+]?inf)", tail)), default=0)


def prior_stein_only(name: str, seed: int, dtype: str, n: int = 32) -> tuple[float, str]:
    """(largest |z|, reason) of prior_stein alone on check_space's inputs (the cheap form
    the test suite runs: the other properties are not evaluated)."""
    res = prior_stein(Ctx(ZOO[name](), n, DTYPES[dtype], seed, torch.device("cpu"), None))
    return float(res.max_error), res.reason


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--only", default="", help="comma-separated substrings of space names")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = [k for k in ZOO if not args.only or any(s in k for s in args.only.split(","))]
    overall, overall_axes = (0.0, ""), (0.0, "")
    alarms, other, t0 = [], [], time.perf_counter()
    for name in names:
        worst, worst_axes, t1 = (0.0, ""), (0.0, ""), time.perf_counter()
        for dtype in DTYPES:
            for seed in range(args.seeds):
                z, why, others = worst_z(name, seed, dtype)
                if others:
                    other.append(f"{name} seed={seed} {dtype}: {', '.join(others)}")
                if not z <= Z_MAX:
                    alarms.append(f"{name} seed={seed} {dtype}: {why}")
                if not z <= worst[0]:
                    worst = (z, f"seed={seed} {dtype}")
                za = per_direction_z(why)
                if not za <= worst_axes[0]:
                    worst_axes = (za, f"seed={seed} {dtype}")
        if not worst[0] <= overall[0]:
            overall = (worst[0], f"{name} {worst[1]}")
        if not worst_axes[0] <= overall_axes[0]:
            overall_axes = (worst_axes[0], f"{name} {worst_axes[1]}")
        dt = time.perf_counter() - t1
        print(
            f"{name:34s} worst |z| {worst[0]:5.2f} ({worst[1]}), per-direction fields "
            f"{worst_axes[0]:5.2f} ({worst_axes[1]}), {dt:6.1f}s",
            flush=True,
        )
    runs = len(names) * len(DTYPES) * args.seeds
    took = time.perf_counter() - t0
    print(f"{runs} runs in {took:.0f}s; worst |z| {overall[0]:.2f} at {overall[1]}")
    print(f"per-direction fields alone: worst |z| {overall_axes[0]:.2f} at {overall_axes[1]}")
    for a in alarms:
        print("FALSE ALARM", a)
    for o in other:
        print("other property failed (not prior_stein):", o)
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
