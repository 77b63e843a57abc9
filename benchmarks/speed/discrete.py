"""Discrete sampling speed: our CTMC Euler sampler vs flow_matching's MixtureDiscreteEulerSolver.

Row ``ctmc_sample_tokens``: tokens/s generating (n, L) sequences from all-mask with the
same SequenceTransformer (mask source, linear kappa = PolynomialConvexScheduler(n=1)), same
number of steps, float64 categorical draws in both, interleaved (benchmarks.common.timing).
Row ``ctmc_sample_tokens_light_model``: the same with a one-layer lookup model, so the
sampler's own cost dominates (ours draws only at positions that jump, by inverse CDF;
flow_matching draws x1 at every position every step and builds one-hot rates).
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.common.timing import speed_row, time_blocks
from discrete_fm import CTMCSpace
from discrete_fm.transformer import SequenceTransformer
from manifold_fm.solvers import sample

__all__ = ["rows"]


class _Lookup(nn.Module):
    """logits = W[x_i] + b_i: a model costing almost nothing."""

    def __init__(self, in_vocab: int, vocab: int, length: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(in_vocab, vocab)
        self.pos = nn.Parameter(0.1 * torch.randn(length, vocab))

    def forward(self, x, t=None, **_):
        return self.emb(x) + self.pos


class _ProbWrapper(nn.Module):
    """flow_matching wants p(x1 | x_t) over its whole vocabulary (V + 1 with the mask)."""

    def __init__(self, net: nn.Module, vocab: int) -> None:
        super().__init__()
        self.net, self.V = net, vocab

    def forward(self, x, t, **_):
        p = torch.softmax(self.net(x, t).float(), -1)
        return torch.cat([p, torch.zeros_like(p[..., :1])], -1)


def rows(quick: bool = False) -> list[dict]:
    """Rows ``ctmc_sample_tokens`` and ``ctmc_sample_tokens_light_model`` (tokens/s)."""
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler
    from flow_matching.solver import MixtureDiscreteEulerSolver

    torch.manual_seed(0)
    V, L, n, steps = 65, (32 if quick else 128), (8 if quick else 64), (8 if quick else 64)
    space = CTMCSpace(V, L, "mask")
    fm_path = MixtureDiscreteProbPath(PolynomialConvexScheduler(n=1.0))
    out = []
    models = {
        "ctmc_sample_tokens": SequenceTransformer.for_space(
            space, dim=32 if quick else 128, depth=1 if quick else 4
        ).eval(),
        "ctmc_sample_tokens_light_model": _Lookup(V + 1, V, L).eval(),
    }
    for name, net in models.items():
        solver = MixtureDiscreteEulerSolver(_ProbWrapper(net, V), fm_path, V + 1)
        x_init = torch.full((n, L), V, dtype=torch.long)
        g = torch.Generator().manual_seed(1)

        @torch.no_grad()
        def ours(net=net, g=g):
            return sample(net, space, n, steps=steps, generator=g).x

        @torch.no_grad()
        def peer(solver=solver, x_init=x_init):
            return solver.sample(
                x_init,
                step_size=1.0 / steps,
                dtype_categorical=torch.float64,
                time_grid=torch.tensor([0.0, 1.0]),
            )

        res = time_blocks(
            {"ours": ours, "peer": peer}, blocks=2 if quick else 3, per_block=1, warmup=1
        )
        out.append(
            speed_row(
                name,
                "tokens/s",
                res["ours"].median_rate() * n * L,
                "flow_matching",
                res["peer"].median_rate() * n * L,
                lower_is_better=False,
                n=n,
                length=L,
                steps=steps,
                vocab=V,
                categorical_dtype="float64",
            )
        )
    return out
