"""Coupling rows for benchmarks/speed/benchmark.py: seconds per minibatch pairing, and its quality.

For each space (R^2: N(0, I) prior to an 8-Gaussian ring; S^2: uniform prior to the
demo's vMF mixture), batch n in 512, 4096, 16384 (quick: 128, 512) and method

* ``ot`` (the default: blocked exact, :data:`manifold_fm.couplings.DEFAULT_BLOCK_SIZE`),
  ``ot_block64`` and ``ot_block256`` (the trade-off that picks the default),
* ``sinkhorn`` (log-domain, torch, eps = 0.05 x mean cost, <= 200 updates; not run at
  16384, where its float64 plan alone is 2 GiB),
* ``ot_exact`` (one exact assignment; not run at 16384: O(n^3), tens of minutes),

a row gives the seconds per coupling (best of a few calls), the mean pair cost divided by
the full exact assignment's at the same n (``cost_vs_exact``; None where the exact one is
not run), beside torchcfm's ``OTPlanSampler`` exact (POT emd on the squared Euclidean
cost, ambient R^3 chordal on S^2: not the geodesic cost) and its sinkhorn (both not run at
16384: the float64 plan is 2 GiB and emd is O(n^3); the row says so and has no ratio).
torchcfm is an optional peer: without it the rows have no peer.
"""

from __future__ import annotations

import math
import time

import torch

from benchmarks.common.timing import speed_row, time_blocks
from manifold_fm.couplings import DEFAULT_BLOCK_SIZE, exact_ot, minibatch_ot, sinkhorn
from manifold_fm.data.synthetic import demo_mixture
from manifold_fm.spaces import Euclidean, Sphere

__all__ = ["METHODS", "rows"]

METHODS = {
    "ot": lambda s, a, b, g: minibatch_ot(s, a, b, g),
    "ot_block64": lambda s, a, b, g: minibatch_ot(s, a, b, g, block_size=64),
    "ot_block256": lambda s, a, b, g: minibatch_ot(s, a, b, g, block_size=256),
    "sinkhorn": lambda s, a, b, g: sinkhorn(s, a, b, g),
}
EXACT_MAX_N = 4096  # full exact assignment and torchcfm's peers: not beyond this


def _data(name: str, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    if name == "r2":
        space = Euclidean(2)
        angle = 2 * math.pi * torch.randint(8, (n,), generator=g) / 8
        ring = 4.0 * torch.stack([angle.cos(), angle.sin()], -1)
        x1 = ring + 0.5 * torch.randn(n, 2, generator=g)
    else:
        space = Sphere(2)
        x1 = demo_mixture().sample(n, generator=g).float()
    return space, space.sample_prior(n, generator=g), x1


def _peers():
    try:
        from torchcfm.optimal_transport import OTPlanSampler
    except ImportError:
        return {}
    return {
        "torchcfm_exact": OTPlanSampler("exact", num_threads=1),
        "torchcfm_sinkhorn": OTPlanSampler("sinkhorn", reg=0.05, normalize_cost=True),
    }


def _time(fn, repeats: int) -> tuple[float, object]:
    out = {}

    def call():
        out["r"] = fn()

    res = time_blocks({"fn": call}, blocks=repeats, warmup=0)
    return res["fn"].best(), out["r"]


def rows(quick: bool = False) -> list[dict]:
    """One row per (space, batch size, method); see the module docstring."""
    sizes = (128, 512) if quick else (512, 4096, 16384)
    peers = _peers()
    out: list[dict] = []
    for sname in ("r2", "s2"):
        for n in sizes:
            space, x0, x1 = _data(sname, n, seed=n)
            exact_cost, exact_s = None, None
            if n <= EXACT_MAX_N:
                t0 = time.perf_counter()
                exact_cost = float(exact_ot(space, x0, x1).cost)
                exact_s = time.perf_counter() - t0
            peer_s: dict[str, float] = {}
            for pname, sampler in peers.items():
                if n <= EXACT_MAX_N:
                    peer_s[pname], _ = _time(lambda s=sampler, a=x0, b=x1: s.sample_plan(a, b), 1)
            ref = "torchcfm_exact" if "torchcfm_exact" in peer_s else None
            for method, fn in {**METHODS, "ot_exact": None}.items():
                if method == "sinkhorn" and n > EXACT_MAX_N:
                    continue  # an (n, n) float64 plan of 2 GiB and minutes per call: no row
                if fn is None:
                    if exact_s is None:
                        continue
                    secs, cost = exact_s, exact_cost
                else:
                    repeats = 1 if n > EXACT_MAX_N or method == "sinkhorn" else 3
                    g = torch.Generator().manual_seed(0)
                    secs, res = _time(lambda f=fn, s=space, a=x0, b=x1, g=g: f(s, a, b, g), repeats)
                    cost = float(res.cost)
                extra = {
                    "batch": n,
                    "space": sname,
                    "method": method,
                    "cost_vs_exact": None if exact_cost is None else cost / exact_cost,
                    "torchcfm_sinkhorn_s": peer_s.get("torchcfm_sinkhorn"),
                }
                if method == "ot":
                    extra["block_size"] = DEFAULT_BLOCK_SIZE
                name = f"coupling_{method}_{sname}_{n}"
                if ref is None:
                    why = "torchcfm not installed" if not peers else "not run: n > 4096"
                    row = {"name": name, "unit": "s", "ours": secs, "peer": why}
                    out.append({**row, "peer_value": None, "ratio": None, **extra})
                    continue
                out.append(
                    speed_row(
                        name,
                        "s",
                        secs,
                        "torchcfm OTPlanSampler exact",
                        peer_s[ref],
                        lower_is_better=True,
                        **extra,
                    )
                )
    return out
