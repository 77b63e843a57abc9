"""Likelihood throughput rows for benchmarks/speed/benchmark.py: ours vs flow_matching.

Rows (points per second, higher is better; ratio > 1 means manifold-fm is faster):

* ``loglik_exact_r2``: log_prob on R^2, exact divergence, Euler, vs
  ``flow_matching.solver.ODESolver.compute_likelihood(exact_divergence=True)`` with the
  same MLP, the same points and the same number of Euler steps.
* ``loglik_exact_s2``: log_prob on S^2 (Riemannian divergence, exp-map Euler, tangent
  projection) vs flow_matching's exact Euclidean likelihood on R^3 with the same MLP. Not
  the same quantity: the peer does no manifold geometry; it is the closest available peer
  workload (3 ambient coordinates vs our 2 tangent directions).

Ours and the peer are timed interleaved (best of ``repeats`` blocks, no warm-up, fixed
order; benchmarks.common.timing) in the same process.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from benchmarks.common.timing import speed_row, time_blocks
from manifold_fm.nn.mlp import TangentModel, TimeMLP
from manifold_fm.solvers import log_prob
from manifold_fm.spaces import Euclidean, Sphere

__all__ = ["rows"]


class _PeerWrap(nn.Module):
    """flow_matching passes a scalar t; our models take t of shape (n,)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, t: Tensor, **extras) -> Tensor:
        return self.model(x, t.reshape(-1)[:1].expand(x.shape[0]))


def _row(name, note, n, steps, ours_fn, peer_fn, repeats) -> dict:
    res = time_blocks({"ours": ours_fn, "peer": peer_fn}, blocks=repeats, warmup=0, rotate=False)
    return speed_row(
        name,
        "points/s",
        n / res["ours"].best(),
        "flow_matching 1.0.10 ODESolver.compute_likelihood(exact_divergence=True)",
        n / res["peer"].best(),
        lower_is_better=False,
        n_points=n,
        steps=steps,
        method="euler",
        threads=res["ours"].threads,
        note=note,
    )


def rows(quick: bool = False) -> list[dict]:
    """Likelihood throughput rows; ``quick`` uses 256 points and 10 steps."""
    from flow_matching.solver import ODESolver

    n, steps, repeats = (256, 10, 2) if quick else (2048, 100, 3)
    gen = torch.Generator().manual_seed(0)
    out = []

    torch.manual_seed(0)
    r2 = Euclidean(2)
    mlp = TimeMLP.for_space(r2, hidden=128, depth=3).eval()
    x = torch.randn(n, 2, generator=gen)
    solver = ODESolver(velocity_model=_PeerWrap(mlp))

    def ours_r2():
        log_prob(mlp, r2, x, steps=steps, method="euler")

    def peer_r2():
        solver.compute_likelihood(
            x_1=x, log_p0=r2.log_prior, step_size=1.0 / steps, exact_divergence=True
        )

    out.append(
        _row(
            "loglik_exact_r2", "same MLP, points, Euler steps", n, steps, ours_r2, peer_r2, repeats
        )
    )

    s2 = Sphere(2)
    net = TimeMLP.for_space(s2, hidden=128, depth=3).eval()
    tangent = TangentModel(s2, net)
    y = s2.sample_prior(n, generator=gen)
    solver3 = ODESolver(velocity_model=_PeerWrap(net))
    r3 = Euclidean(3)

    def ours_s2():
        log_prob(tangent, s2, y, steps=steps, method="euler")

    def peer_s2():
        solver3.compute_likelihood(
            x_1=y, log_p0=r3.log_prior, step_size=1.0 / steps, exact_divergence=True
        )

    note = (
        "ours: Riemannian divergence on S^2 (2 tangent directions, exp-map steps, tangent "
        "projection); peer: Euclidean divergence on R^3 (3 coordinates) with the same MLP, "
        "no manifold geometry, so not the same quantity"
    )
    out.append(_row("loglik_exact_s2", note, n, steps, ours_s2, peer_s2, repeats))
    return out
