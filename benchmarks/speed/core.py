"""Core speed rows: training steps/s on R^2 and S^2, and geodesic path sampling on S^2.

Peers: facebookresearch/flow_matching (AffineProbPath / GeodesicProbPath) and torchcfm
(ConditionalFlowMatcher, R^2 only). Every library trains the same TimeMLP from the same
initial weights on the same pre-generated batches, with the same optimiser; calls are
interleaved (see benchmarks.common.timing.time_blocks).
"""

from __future__ import annotations

import copy

import torch

from benchmarks.common.timing import speed_row, time_blocks
from manifold_fm import Euclidean, Sphere
from manifold_fm.nn import TimeMLP

__all__ = ["rows"]


def _rates(fns: dict, blocks: int, per_block: int) -> dict[str, float]:
    """Median calls/s over interleaved blocks (3 warm-up calls each)."""
    res = time_blocks(fns, blocks=blocks, per_block=per_block, warmup=3)
    return {name: t.median_rate() for name, t in res.items()}


class _Stepper:
    """One optimiser step of a model on a stream of pre-generated (x0, x1, t) batches."""

    def __init__(self, model, batches, pair_fn) -> None:
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        self.batches, self.pair_fn, self.i = batches, pair_fn, 0

    def __call__(self) -> None:
        x0, x1, t = self.batches[self.i % len(self.batches)]
        self.i += 1
        x_t, loss_of = self.pair_fn(x0, x1, t)
        loss = loss_of(self.model(x_t, t))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def _ours(space):
    def pair(x0, x1, t):
        s = space.path(x0, x1, t)
        return s.x_t, lambda out: space.loss(out, s).mean()

    return pair


def _fm_path(path):
    def pair(x0, x1, t):
        s = path.sample(x_0=x0, x_1=x1, t=t)
        return s.x_t, lambda out: (out - s.dx_t).pow(2).sum(-1).mean()

    return pair


def _cfm(matcher):
    def pair(x0, x1, t):
        _, x_t, u_t = matcher.sample_location_and_conditional_flow(x0, x1, t)
        return x_t, lambda out: (out - u_t).pow(2).sum(-1).mean()

    return pair


def _batches(space, n_batches, batch, gen):
    out = []
    for _ in range(n_batches):
        x0 = space.sample_prior(batch, generator=gen)
        x1 = space.sample_prior(batch, generator=gen)
        if isinstance(space, Sphere):  # a non-uniform target: concentrate near +z
            x1 = space.projx(x1 + torch.tensor([0.0, 0.0, 1.5]))
        out.append((x0, x1, torch.rand(batch, generator=gen)))
    return out


def _train_rows(quick: bool) -> list[dict]:
    from flow_matching.path import AffineProbPath, GeodesicProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from flow_matching.utils.manifolds import Sphere as FMSphere

    batch = 512 if quick else 4096
    blocks, per_block = (2, 3) if quick else (24, 10)
    gen = torch.Generator().manual_seed(0)
    rows = []

    r2 = Euclidean(2)
    base = TimeMLP.for_space(r2, hidden=256, depth=3)
    data = _batches(r2, 8, batch, gen)
    fns = {
        "ours": _Stepper(copy.deepcopy(base), data, _ours(r2)),
        "flow_matching": _Stepper(
            copy.deepcopy(base), data, _fm_path(AffineProbPath(CondOTScheduler()))
        ),
    }
    try:
        import torchcfm

        fns["torchcfm"] = _Stepper(
            copy.deepcopy(base), data, _cfm(torchcfm.ConditionalFlowMatcher(sigma=0.0))
        )
    except ImportError:
        pass
    res = _rates(fns, blocks, per_block)
    for peer in [p for p in fns if p != "ours"]:
        rows.append(
            speed_row(
                "train_step_r2",
                "steps/s",
                res["ours"],
                peer,
                res[peer],
                lower_is_better=False,
                batch=batch,
                model="TimeMLP 256x3",
            )
        )

    s2 = Sphere(2)
    base = TimeMLP.for_space(s2, hidden=256, depth=3)
    data = _batches(s2, 8, batch, gen)
    fm_geo = GeodesicProbPath(CondOTScheduler(), FMSphere())
    fns = {
        "ours": _Stepper(copy.deepcopy(base), data, _ours(s2)),
        "flow_matching": _Stepper(copy.deepcopy(base), data, _fm_path(fm_geo)),
    }
    res = _rates(fns, blocks, per_block)
    rows.append(
        speed_row(
            "train_step_s2",
            "steps/s",
            res["ours"],
            "flow_matching",
            res["flow_matching"],
            lower_is_better=False,
            batch=batch,
            model="TimeMLP 256x3",
        )
    )
    return rows


def _path_row(quick: bool) -> dict:
    from flow_matching.path import GeodesicProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from flow_matching.utils.manifolds import Sphere as FMSphere

    batch = 4096
    gen = torch.Generator().manual_seed(1)
    s2 = Sphere(2)
    x0, x1 = s2.sample_prior(batch, generator=gen), s2.sample_prior(batch, generator=gen)
    t = torch.rand(batch, generator=gen)
    fm = GeodesicProbPath(CondOTScheduler(), FMSphere())
    ours_s, peer_s = s2.path(x0, x1, t), fm.sample(x_0=x0, x_1=x1, t=t)
    fns = {"ours": lambda: s2.path(x0, x1, t), "flow_matching": lambda: fm.sample(x0, x1, t)}
    res = _rates(fns, 3 if quick else 10, 5 if quick else 30)
    return speed_row(
        "geodesic_path_s2",
        "us/call",
        1e6 / res["ours"],
        "flow_matching",
        1e6 / res["flow_matching"],
        lower_is_better=True,
        batch=batch,
        max_abs_diff_x_t=float((ours_s.x_t - peer_s.x_t).abs().max()),
        max_abs_diff_target=float((ours_s.target - peer_s.dx_t).abs().max()),
    )


def _path_loss_rows(quick: bool) -> list[dict]:
    """Library overhead alone on R^2: pair sampling + loss at batch 4096, no network."""
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler

    batch = 4096
    gen = torch.Generator().manual_seed(2)
    r2 = Euclidean(2)
    (x0, x1, t), out = _batches(r2, 1, batch, gen)[0], torch.randn(batch, 2, generator=gen)
    fns = {"ours": _LossOnly(_ours(r2), x0, x1, t, out)}
    fns["flow_matching"] = _LossOnly(_fm_path(AffineProbPath(CondOTScheduler())), x0, x1, t, out)
    try:
        import torchcfm

        fns["torchcfm"] = _LossOnly(
            _cfm(torchcfm.ConditionalFlowMatcher(sigma=0.0)), x0, x1, t, out
        )
    except ImportError:
        pass
    res = _rates(fns, 3 if quick else 10, 20 if quick else 200)
    return [
        speed_row(
            "path_loss_r2",
            "us/call",
            1e6 / res["ours"],
            peer,
            1e6 / res[peer],
            lower_is_better=True,
            batch=batch,
        )
        for peer in fns
        if peer != "ours"
    ]


class _LossOnly:
    """Pair sampling plus loss for a fixed model output (no network, no backward)."""

    def __init__(self, pair_fn, x0, x1, t, out) -> None:
        self.pair_fn, self.args, self.out = pair_fn, (x0, x1, t), out

    def __call__(self) -> None:
        _, loss_of = self.pair_fn(*self.args)
        loss_of(self.out)


def rows(quick: bool = False) -> list[dict]:
    """Rows train_step_r2 (one per peer), train_step_s2, path_loss_r2, geodesic_path_s2."""
    return [*_train_rows(quick), *_path_loss_rows(quick), _path_row(quick)]
