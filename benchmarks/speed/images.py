"""Image training speed: images/s of a full UNet step, the Trainer against a bare loop.

Both sides train the MNIST benchmark's CPU UNet (``benchmarks.mnist.budgets.BUDGETS['cpu']``
model, unconditional) from the same initial weights on the same device-resident random
images ``(1, 28, 28)`` in [-1, 1] at the same batch, with the same math per step: uniform
row draw, Gaussian prior draw, uniform t, the cond-OT path of ``Euclidean((1, 28, 28))``,
its loss, AdamW (lr 1e-3), global-norm clipping at 1.0 and a warmed-up EMA (decay 0.999).
Blocks are interleaved (:func:`benchmarks.common.timing.time_blocks`); the ratio compares each
side's fastest block. On CUDA the comparison is repeated with bf16 autocast and with
``torch.compile`` on both sides; without CUDA those rows are skipped with the reason.

Measure these rows alone with ``python -m benchmarks.speed --only images [--quick]``.
"""

from __future__ import annotations

import contextlib
import copy
import time
import traceback

import torch

from benchmarks.common.timing import time_blocks
from benchmarks.speed.trainer import TrainerBlock, trainer_vs_bare_row
from manifold_fm import Euclidean
from manifold_fm.nn import UNet
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["rows"]

SEED = 0


class _BareLoop:
    """The hand-written loop: ``k`` steps per call on ``device``, bf16 autocast if asked."""

    def __init__(self, space, model, data, batch, k, device, bf16, compile_model) -> None:
        self.space, self.data, self.batch, self.k = space, data, batch, k
        self.model = model.to(device)
        self.fwd = torch.compile(self.model) if compile_model else self.model
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=1e-3, weight_decay=0.0, foreach=True)
        self.ema = [p.detach().clone() for p in self.params]
        self.device, self.bf16, self.step = torch.device(device), bf16, 0
        self.gen = torch.Generator(device=self.device).manual_seed(SEED)

    def __call__(self) -> None:
        s, b, dev = self.space, self.batch, self.device
        for _ in range(self.k):
            idx = torch.randint(self.data.shape[0], (b,), generator=self.gen, device=dev)
            x1 = self.data[idx]
            x0 = s.sample_prior(b, generator=self.gen, device=dev)
            t = torch.rand(b, generator=self.gen, device=dev)
            sample = s.path(x0, x1, t)
            amp = (
                torch.autocast(dev.type, dtype=torch.bfloat16)
                if self.bf16
                else contextlib.nullcontext()
            )
            with amp:
                out = self.fwd(sample.x_t, t)
            loss = s.loss(out.float(), sample).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
            self.opt.step()
            self.step += 1
            decay = min(0.999, (1.0 + self.step) / (10.0 + self.step))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, self.params, 1.0 - decay)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)


def _model(quick: bool) -> UNet:
    from benchmarks.mnist.budgets import BUDGETS

    kw = BUDGETS["smoke" if quick else "cpu"].model
    torch.manual_seed(SEED)
    return UNet(in_channels=1, image_size=28, **kw)


def _measure(quick: bool, device: str, bf16: bool, compile_model: bool) -> dict:
    space = Euclidean((1, 28, 28))
    batch = 8 if quick else (256 if device == "cuda" else 64)
    blocks, k, warmup = (2, 2, 1) if quick else (6, 5, 1)
    gen = torch.Generator().manual_seed(SEED)
    data = (torch.rand(2048, 1, 28, 28, generator=gen) * 2 - 1).to(device)
    base = _model(quick)
    cfg = TrainConfig(
        steps=(blocks + warmup) * k + 1,
        batch_size=batch,
        lr=1e-3,
        warmup_steps=0,
        lr_schedule="constant",
        grad_clip=1.0,
        ema_decay=0.999,
        log_every=50,
        progress=False,
        device=device,
        amp="bf16" if bf16 else "off",
        compile=compile_model,
        seed=SEED,
    )
    trainer = Trainer(space, copy.deepcopy(base), data, cfg)
    bare = _BareLoop(space, copy.deepcopy(base), data, batch, k, device, bf16, compile_model)
    t0 = time.perf_counter()
    res = time_blocks(
        {"trainer": TrainerBlock(trainer, k), "bare": bare},
        blocks=blocks,
        per_block=1,
        warmup=warmup,
    )
    tr, ba = res["trainer"], res["bare"]
    return {
        "trainer_best": k * batch / tr.best(),
        "bare_best": k * batch / ba.best(),
        "trainer": k * batch / tr.median(),
        "bare": k * batch / ba.median(),
        "batch": batch,
        "blocks": blocks,
        "steps_per_block": k,
        "params": base.n_params(),
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def _row(name: str, m: dict, **extra) -> dict:
    return trainer_vs_bare_row(
        name,
        "images/s",
        m,
        0.97,
        batch=m["batch"],
        blocks=m["blocks"],
        steps_per_block=m["steps_per_block"],
        params=m["params"],
        seed=SEED,
        wall_s=m["wall_s"],
        **extra,
    )


def rows(quick: bool = False) -> list[dict]:
    """``unet_trainer_vs_bare_loop`` (CPU, float32) and, on CUDA, ``..._cuda_bf16`` and
    ``..._cuda_bf16_compiled``."""
    out = [_row("unet_trainer_vs_bare_loop", _measure(quick, "cpu", False, False))]
    if not torch.cuda.is_available():
        out[0]["cuda_skipped"] = "no CUDA device: bf16 and torch.compile rows not measured"
        return out
    out.append(_row("unet_trainer_vs_bare_loop_cuda_bf16", _measure(quick, "cuda", True, False)))
    try:
        m = _measure(quick, "cuda", True, True)
        out.append(_row("unet_trainer_vs_bare_loop_cuda_bf16_compiled", m, compile=True))
    except Exception as err:  # inductor needs a working toolchain; record why not
        reason = "".join(traceback.format_exception_only(type(err), err)).strip()
        out[-1]["compiled_skipped"] = reason[:300]
    return out
