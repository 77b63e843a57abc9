"""Trainer overhead: steps/s of the full Trainer vs a bare hand-written loop.

Both train the same TimeMLP (``TimeMLP.for_space(Sphere(2))``, hidden 256, depth 3) from
the same initial weights on the same device-resident S^2 data at batch 4096, and do the
same math per step: uniform row draw, prior draw, uniform t, geodesic path, loss, AdamW,
global-norm clipping at 1.0 and an EMA update (decay 0.999). The bare loop is the
minimum a user would write for that; the ratio trainer/bare therefore measures what the
Trainer's bookkeeping costs (dict batches, coupling and time-sampler dispatch, device-side
loss/NaN accumulators, LR schedule, periodic logging). Blocks of steps are interleaved
round-robin. The headline rates use each side's fastest block (minimum wall time, the
timeit convention: on a shared machine noise only ever adds time); the median wall-clock
ratio (``ratio_median``) and the median CPU-time ratio (``ratio_cpu``) are recorded
beside it. The same comparison is repeated
with ``torch.compile`` on both; if compilation fails on this machine the reason is
recorded instead.

``benchmarks/speed/benchmark.py`` collects ``rows``; measure these rows alone with
``python -m benchmarks.speed --only trainer [--quick]``.
"""

from __future__ import annotations

import copy
import time
import traceback

import torch

from benchmarks.common.timing import speed_row, time_blocks
from manifold_fm import Sphere
from manifold_fm.nn import TimeMLP
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["TrainerBlock", "rows", "trainer_vs_bare_row"]

SEED = 0


class _BareLoop:
    """The hand-written loop: ``k`` steps per call."""

    def __init__(self, space, model, data, batch, k, compile_model) -> None:
        self.space, self.model, self.data, self.batch, self.k = space, model, data, batch, k
        self.fwd = torch.compile(model) if compile_model else model
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=1e-3, weight_decay=0.0, foreach=True)
        self.ema = [p.detach().clone() for p in self.params]
        self.step = 0
        self.gen = torch.Generator().manual_seed(SEED)
        self.data_gen = torch.Generator().manual_seed(SEED + 1)

    def __call__(self) -> None:
        s, b = self.space, self.batch
        for _ in range(self.k):
            x1 = self.data[torch.randint(self.data.shape[0], (b,), generator=self.data_gen)]
            x0 = s.sample_prior(b, generator=self.gen)
            t = torch.rand(b, generator=self.gen)
            sample = s.path(x0, x1, t)
            loss = s.loss(self.fwd(sample.x_t, t), sample).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
            self.opt.step()
            self.step += 1
            decay = min(0.999, (1.0 + self.step) / (10.0 + self.step))  # warmed-up EMA
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, self.params, 1.0 - decay)


class TrainerBlock:
    """``k`` steps of the full Trainer per call."""

    def __init__(self, trainer: Trainer, k: int) -> None:
        self.trainer, self.k = trainer, k

    def __call__(self) -> None:
        self.trainer.fit(until=self.trainer.step + self.k)


def _measure(compile_model: bool, quick: bool) -> dict:
    torch.manual_seed(SEED)
    space = Sphere(2)
    batch = 1024 if quick else 4096
    blocks, k, warmup = (2, 2, 1) if quick else (10, 10, 1)
    gen = torch.Generator().manual_seed(SEED)
    data = space.projx(space.sample_prior(20000, generator=gen) + torch.tensor([0.0, 0.0, 1.5]))
    base = TimeMLP.for_space(space, hidden=256, depth=3)
    total = (blocks + warmup) * k + 1
    cfg = TrainConfig(
        steps=total,
        batch_size=batch,
        lr=1e-3,
        warmup_steps=0,
        lr_schedule="constant",
        grad_clip=1.0,
        ema_decay=0.999,
        log_every=50,
        progress=False,
        device="cpu",
        amp="off",
        compile=compile_model,
        seed=SEED,
    )
    trainer = Trainer(space, copy.deepcopy(base), data, cfg)
    bare = _BareLoop(space, copy.deepcopy(base), data, batch, k, compile_model)
    t0 = time.perf_counter()
    fns = {"trainer": TrainerBlock(trainer, k), "bare": bare}
    res = time_blocks(fns, blocks=blocks, per_block=1, warmup=warmup)
    tr, ba = res["trainer"], res["bare"]
    return {
        "trainer": k / tr.median(),
        "bare": k / ba.median(),
        "trainer_best": k / tr.best(),
        "bare_best": k / ba.best(),
        "trainer_cpu": k / tr.median("cpu"),
        "bare_cpu": k / ba.median("cpu"),
        "blocks": blocks,
        "steps_per_block": k,
        "batch": batch,
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def trainer_vs_bare_row(name: str, unit: str, m: dict, target_ratio: float, **details) -> dict:
    """A row of the Trainer against the bare loop: rates of each side's fastest block
    (``m["trainer_best"]``, ``m["bare_best"]``), the medians beside them, then ``details``."""
    return speed_row(
        name,
        unit,
        m["trainer_best"],
        "bare loop",
        m["bare_best"],
        lower_is_better=False,
        ratio_basis="fastest block of each side (min wall time), interleaved",
        target_ratio=target_ratio,
        ours_median=m["trainer"],
        peer_median=m["bare"],
        ratio_median=m["trainer"] / m["bare"],
        **details,
    )


def _row(name: str, m: dict, **extra) -> dict:
    return trainer_vs_bare_row(
        name,
        "steps/s",
        m,
        0.95,
        # CPU-time rates: insensitive to other processes on a shared machine
        ours_cpu=m["trainer_cpu"],
        peer_cpu=m["bare_cpu"],
        ratio_cpu=m["trainer_cpu"] / m["bare_cpu"],
        batch=m["batch"],
        blocks=m["blocks"],
        steps_per_block=m["steps_per_block"],
        seed=SEED,
        wall_s=m["wall_s"],
        **extra,
    )


def rows(quick: bool = False) -> list[dict]:
    """Rows ``trainer_vs_bare_loop_s2`` and (when compile works) ``..._compiled``."""
    out = [_row("trainer_vs_bare_loop_s2", _measure(False, quick))]
    if quick:
        out[0]["compiled_skipped"] = "quick mode (compilation takes minutes on CPU)"
        return out
    try:
        out.append(_row("trainer_vs_bare_loop_s2_compiled", _measure(True, quick), compile=True))
    except Exception as err:  # inductor needs a working C++ toolchain; record why not
        reason = "".join(traceback.format_exception_only(type(err), err)).strip()
        out[0]["compiled_skipped"] = reason[:300]
    return out
