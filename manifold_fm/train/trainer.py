"""The Trainer: one flow-matching training loop for every Space.

Each step (never branching on the kind of space)::

    x0     = space.sample_prior(n, generator=g)             # g: device generator, per rank
    pair   = coupling(space, x0, x1, g)                     # independent or minibatch OT
    t      = time_sampler(n, g)                             # uniform or logit-normal
    sample = space.path(pair.x0, pair.x1, t, generator=g, mask=mask)
    out    = model(sample.x_t, t, **cond[, cond_drop][, mask])   # bf16 autocast if enabled
    loss   = space.loss(out, sample).mean()
    AdamW step with warmup + cosine/constant LR, global-norm clipping, EMA update.

No host synchronisation inside a step: the loss is accumulated on the device and read
(one sync) every ``log_every`` steps. Non-finite losses are recorded on the device (first
bad step, as a device tensor); the flag is read at each log step and before each
checkpoint, so a NaN/inf stops the run with :class:`NonFiniteLossError` naming the step,
at most ``log_every`` steps late, and a checkpoint is never written from a poisoned state
(the last good one stays on disk).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from manifold_fm.conditioning import with_dropped
from manifold_fm.couplings import get_coupling
from manifold_fm.spaces.base import Space
from manifold_fm.train.batches import make_batches
from manifold_fm.train.checkpoint import load_checkpoint, remove_stale_temps, save_checkpoint
from manifold_fm.train.config import TrainConfig
from manifold_fm.train.distributed import init_distributed, rank_seed, resolve_device
from manifold_fm.train.ema import EMA
from manifold_fm.train.lr import lr_factor
from manifold_fm.train.timesampling import make_time_sampler

__all__ = ["CKPT_NAME", "METRICS_NAME", "NonFiniteLossError", "TrainResult", "Trainer"]

CKPT_NAME = "ckpt.pt"
METRICS_NAME = "metrics.jsonl"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or inf; ``step`` is the first bad step."""

    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        steps: optimiser steps completed in total (including resumed ones).
        final_loss: mean loss over the last logging window.
        losses: mean loss of each logging window (every ``log_every`` steps).
        loss_steps: the step at the end of each window.
        wall_s: seconds spent in this ``fit`` call.
        steps_per_s: steps of this call divided by ``wall_s``.
        ckpt_path: last checkpoint written (None without ``out_dir``).
    """

    steps: int
    final_loss: float
    losses: list[float] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    steps_per_s: float = 0.0
    ckpt_path: str | None = None


def _float_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


class Trainer:
    """Train ``model`` on ``space`` from ``data`` (see the module docstring).

    Args:
        space: any :class:`~manifold_fm.spaces.base.Space`.
        model: ``model(x_t, t, **cond) -> output``; moved to the training device.
        data: Tensor ``(n, *event_shape)``, dict of tensors with ``"x1"``, Dataset or
            DataLoader (:mod:`manifold_fm.train.batches`). Batch key ``"mask"`` goes to
            ``space.path(mask=)`` and to the model; other keys are model conditions.
        config: :class:`TrainConfig` (defaults if None).
        meta: plain-Python values stored in every checkpoint (the CLI stores the space /
            model / data sections here so ``mfm sample`` can rebuild the model).
    """

    def __init__(
        self,
        space: Space,
        model: nn.Module,
        data: Any,
        config: TrainConfig | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> None:
        cfg = TrainConfig() if config is None else config
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(cfg).__name__}")
        if not isinstance(space, Space):
            raise TypeError(f"space must be a manifold_fm Space, got {type(space).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if (cfg.ckpt_every or cfg.resume) and cfg.out_dir is None:
            raise ValueError("TrainConfig.ckpt_every / resume need TrainConfig.out_dir")
        self.config, self.space, self.meta = cfg, space, dict(meta or {})
        self.device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)  # nccl collectives use the current device
        self.dist = init_distributed(self.device)
        self.model = model.to(self.device)
        self.dtype = _float_dtype(self.model)
        self.ema = EMA(self.model, cfg.ema_decay)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        if not self._params:
            raise ValueError("model has no trainable parameters")

        forward: nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            forward = DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            forward = torch.compile(forward)
        self._forward = forward

        fused = self.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(
            self._params,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            fused=fused or None,
            foreach=None if fused else True,
        )
        seed = rank_seed(cfg.seed, self.dist.rank)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.batches = make_batches(
            data,
            batch_size=cfg.batch_size,
            device=self.device,
            float_dtype=self.dtype,
            seed=seed + 1,
            rank=self.dist.rank,
            world=self.dist.world_size,
            num_workers=cfg.num_workers,
        )
        self.coupling = get_coupling(cfg.coupling)
        self.time_sampler = make_time_sampler(
            cfg.time_sampling, cfg.logit_normal_mean, cfg.logit_normal_std
        )
        amp = cfg.amp == "bf16" or (cfg.amp == "auto" and self.device.type == "cuda")
        self._autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if amp
            else contextlib.nullcontext()
        )
        self.amp = amp

        self.step = 0
        self.losses: list[float] = []
        self.loss_steps: list[int] = []
        # device-side accumulators: no host sync inside a step
        self._loss_sum = torch.zeros((), device=self.device, dtype=torch.float32)
        self._since_log = 0
        self._step_t = torch.zeros((), device=self.device, dtype=torch.long)
        self._first_bad = torch.full((), -1, device=self.device, dtype=torch.long)
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else None
        self.ckpt_path: Path | None = None
        if self.out_dir is not None and self.dist.is_main:
            remove_stale_temps(self.out_dir / CKPT_NAME)  # left by a writer killed mid-write
        if cfg.resume and self.out_dir is not None and (self.out_dir / CKPT_NAME).is_file():
            self.load(self.out_dir / CKPT_NAME)

    # -- public views -----------------------------------------------------------------
    @property
    def ema_model(self) -> nn.Module:
        """The EMA-averaged model (eval mode), for evaluation and sampling."""
        return self.ema.module

    # -- one step ---------------------------------------------------------------------
    def _train_step(self, batch: dict[str, Tensor]) -> None:
        cfg, space, g, dev = self.config, self.space, self.generator, self.device
        x1 = batch.pop("x1")
        mask = batch.pop("mask", None)
        cond: dict[str, Any] = batch
        n = x1.shape[0]
        x0 = space.sample_prior(
            n, generator=g, device=dev, dtype=x1.dtype if x1.is_floating_point() else None
        )
        pair = self.coupling(space, x0, x1, g)
        t = self.time_sampler(n, g, dev, self.dtype)
        sample = space.path(pair.x0, pair.x1, t, generator=g, mask=mask)
        if cond and cfg.cond_dropout > 0:
            drop = torch.rand(n, generator=g, device=dev) < cfg.cond_dropout
            cond = with_dropped(cond, drop)
        if mask is not None:
            cond = {**cond, "mask": mask}
        with self._autocast:
            out = self._forward(sample.x_t, t, **cond)
        if out.is_floating_point() and out.dtype != self.dtype:
            out = out.to(self.dtype)
        loss = space.loss(out, sample).mean()

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._params, cfg.grad_clip, foreach=True)
        lr = cfg.lr * lr_factor(self.step + 1, cfg.steps, cfg.warmup_steps, cfg.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.ema.update(self.step + 1)

        lv = loss.detach().float()
        finite = torch.isfinite(lv)
        self._step_t += 1
        self._loss_sum += torch.where(finite, lv, torch.zeros_like(lv))
        self._first_bad = torch.where(
            (~finite) & (self._first_bad < 0), self._step_t, self._first_bad
        )
        self._since_log += 1

    # -- sync points ------------------------------------------------------------------
    def _check_finite(self) -> None:
        """Host sync: raise NonFiniteLossError if any rank saw a non-finite loss."""
        bad = self._first_bad.clone()
        if self.dist.enabled:
            # ranks without a bad step report a huge value so MIN finds the first bad one
            big = torch.iinfo(torch.long).max
            bad = torch.where(bad < 0, torch.full_like(bad, big), bad)
            dist.all_reduce(bad, op=dist.ReduceOp.MIN)
            bad = torch.where(bad == big, torch.full_like(bad, -1), bad)
        step = int(bad)
        if step >= 0:
            where = (
                f"; last good checkpoint: {self.ckpt_path}"
                if self.ckpt_path is not None
                else "; no checkpoint was written"
            )
            raise NonFiniteLossError(
                step, f"non-finite (NaN/inf) training loss at step {step}{where}"
            )

    def _log(self, pbar: Any, t_start: float, step_start: int) -> None:
        self._check_finite()
        total = self._loss_sum.clone()
        if self.dist.enabled:
            dist.all_reduce(total)
            total /= self.dist.world_size
        mean = float(total) / max(self._since_log, 1)
        self._loss_sum.zero_()
        self._since_log = 0
        self.losses.append(mean)
        self.loss_steps.append(self.step)
        wall = time.perf_counter() - t_start
        rate = (self.step - step_start) / max(wall, 1e-9)
        if pbar is not None:
            pbar.set_postfix(loss=f"{mean:.4f}", steps_s=f"{rate:.1f}", refresh=False)
        if self.dist.is_main and self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            row = {
                "step": self.step,
                "loss": mean,
                "lr": self.optimizer.param_groups[0]["lr"],
                "steps_per_s": rate,
                "wall_s": wall,
            }
            with open(self.out_dir / METRICS_NAME, "a") as f:
                f.write(json.dumps(row) + "\n")

    # -- checkpoints ------------------------------------------------------------------
    def _rank_state(self) -> dict[str, Any]:
        """This rank's random streams, data position and loss accumulator."""
        st: dict[str, Any] = {
            "generator": self.generator.get_state(),
            "torch": torch.get_rng_state(),
            "batches": self.batches.state_dict(),
            "loss_sum": self._loss_sum.detach().cpu(),
        }
        if torch.cuda.is_available():
            st["cuda"] = torch.cuda.get_rng_state_all()
        return st

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors and plain values only).

        Under DDP this is a collective call: every rank's random streams and data
        position are gathered (``ranks[r]``) so a resume with the same world size
        continues every rank exactly.
        """
        own = self._rank_state()
        if self.dist.enabled:
            ranks: list[Any] = [None] * self.dist.world_size
            dist.all_gather_object(ranks, own)
        else:
            ranks = [own]
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {
                "kind": self.config.lr_schedule,
                "warmup_steps": self.config.warmup_steps,
                "total_steps": self.config.steps,
                "step": self.step,
            },
            "ranks": ranks,
            "log": {
                "since_log": self._since_log,
                "losses": list(self.losses),
                "loss_steps": list(self.loss_steps),
            },
            "config": self.config.to_dict(),
            "meta": self.meta,
            "world_size": self.dist.world_size,
        }

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Check the loss is finite, then write a checkpoint atomically.

        Every rank must call it (the state is gathered); rank 0 alone writes.
        """
        self._check_finite()
        if path is None:
            if self.out_dir is None:
                raise ValueError("Trainer.save: no path given and TrainConfig.out_dir is None")
            path = self.out_dir / CKPT_NAME
        state = self.state_dict()  # collective under DDP: every rank takes part
        if self.dist.is_main:
            save_checkpoint(state, path)
        if self.dist.enabled:
            dist.barrier()  # no rank reads the file before rank 0 has replaced it
        self.ckpt_path = Path(path)
        return self.ckpt_path

    def load(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint written by :meth:`save` (weights_only load)."""
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        ranks = state["ranks"]
        if len(ranks) == self.dist.world_size:
            own = ranks[self.dist.rank]
            self.generator.set_state(own["generator"])
            self.batches.load_state_dict(own["batches"])
            torch.set_rng_state(own["torch"])
            if "cuda" in own and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(own["cuda"])
            self._loss_sum.copy_(own["loss_sum"])
        else:
            # a different world size: weights and step carry over, random streams are
            # reseeded deterministically from (seed, rank, step); not bit-exact by nature
            warnings.warn(
                f"checkpoint {path} was written by {len(ranks)} ranks, resuming with "
                f"{self.dist.world_size}: random streams reseeded",
                stacklevel=2,
            )
            self.generator.manual_seed(rank_seed(self.config.seed, self.dist.rank) + self.step)
            self._loss_sum.zero_()
        log = state["log"]
        self._since_log = int(log["since_log"])
        if self.dist.is_main and self.out_dir is not None:
            self._trim_metrics()
        self.losses = [float(v) for v in log["losses"]]
        self.loss_steps = [int(v) for v in log["loss_steps"]]
        self._step_t.fill_(self.step)
        self.ckpt_path = Path(path)

    def _trim_metrics(self) -> None:
        """Drop metrics rows past the resumed step (and a torn last line) so that the
        JSONL file reads as one uninterrupted run; rewritten atomically."""
        path = self.out_dir / METRICS_NAME
        if not path.is_file():
            return
        keep = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-write
            if isinstance(row, dict) and int(row.get("step", 0)) <= self.step:
                keep.append(line)
        tmp = path.with_name(f".{METRICS_NAME}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in keep))
        os.replace(tmp, path)

    # -- the loop ---------------------------------------------------------------------
    def fit(self, until: int | None = None) -> TrainResult:
        """Train up to ``until`` steps (default: ``config.steps``) and return a summary.

        ``until`` < ``config.steps`` stops early with the LR schedule of the full run
        (used to emulate preemption); a final checkpoint is written when ``out_dir`` is set.
        """
        cfg = self.config
        stop = cfg.steps if until is None else int(until)
        if not 0 <= stop <= cfg.steps:
            raise ValueError(f"fit(until={until!r}) must lie in [0, steps={cfg.steps}]")
        self.model.train()
        pbar = None
        if cfg.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            pbar = tqdm(total=stop, initial=self.step, desc="train", dynamic_ncols=True)
        step_start, t_start = self.step, time.perf_counter()
        try:
            while self.step < stop:
                self._train_step(self.batches.next())
                self.step += 1
                if pbar is not None:
                    pbar.update(1)
                if cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
                    self.save()
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self._log(pbar, t_start, step_start)
            # an early stop (until < steps) keeps its partial window in the checkpoint,
            # so a resumed run logs exactly the windows of an uninterrupted one
            self._check_finite()
            if self.out_dir is not None and self.step > step_start:
                self.save()
        finally:
            if pbar is not None:
                pbar.close()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        wall = time.perf_counter() - t_start
        return TrainResult(
            steps=self.step,
            final_loss=self.losses[-1] if self.losses else float("nan"),
            losses=list(self.losses),
            loss_steps=list(self.loss_steps),
            wall_s=wall,
            steps_per_s=(self.step - step_start) / max(wall, 1e-9),
            ckpt_path=str(self.ckpt_path) if self.ckpt_path is not None else None,
        )
