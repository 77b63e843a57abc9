"""The Trainer: one flow-matching training loop for every Space.

Each step (never branching on the kind of space)::

    x0     = space.sample_prior(n, generator=g[, mask=mask]) # g: device generator, per rank
    pair   = coupling(space, x0, x1, g[, mask])     # mask if the coupling declares uses_mask
    t      = time_sampler(n, g)                             # uniform or logit-normal
    sample = space.path(pair.x0, pair.x1, t, generator=g, mask=mask)
    out    = model(sample.x_t, t, **cond[, cond_drop][, mask][, self_cond])  # bf16 autocast
    loss   = space.loss(out, sample).mean()          # or its x1 form / FrameFlow weighting
    AdamW step with warmup + cosine/constant LR, global-norm clipping, EMA update.

No host synchronisation inside a step (:mod:`.loss_meter`): the loss is read every
``log_every`` steps, and a NaN/inf stops the run with :class:`NonFiniteLossError` before
a checkpoint is written from a poisoned state. The parts a step runs are built by
:mod:`.builder`, the data checked by :mod:`.data_checks`, metrics appended by
:mod:`.metrics_log`, checkpoints written and resumes guarded by :mod:`.checkpoint` and
:mod:`.resume_guard`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

import manifold_fm.train.checkpoint as ckpt
from manifold_fm.conditioning import check_cond, check_self_condition, with_dropped
from manifold_fm.couplings import get_coupling, uses_mask
from manifold_fm.errors import RunFolderExistsError
from manifold_fm.progress import progress
from manifold_fm.spaces.base import Space
from manifold_fm.train.batches import make_batches
from manifold_fm.train.builder import build_parts, check_arguments, setup_device
from manifold_fm.train.collate import BATCH_KEYS
from manifold_fm.train.config import TrainConfig
from manifold_fm.train.data_checks import check_batch
from manifold_fm.train.distributed import rank_seed
from manifold_fm.train.loss_forms import self_condition, weighted_loss
from manifold_fm.train.loss_meter import LossMeter, NonFiniteLossError, TrainResult
from manifold_fm.train.metrics_log import METRICS_NAME, MetricsLog
from manifold_fm.train.resume_guard import check_resume, run_fingerprint
from manifold_fm.train.timesampling import make_time_sampler

__all__ = ["CKPT_NAME", "METRICS_NAME", "NonFiniteLossError", "TrainResult", "Trainer"]

CKPT_NAME = "ckpt.pt"


def check_run_folder(out_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run where another run's checkpoint lies, unless asked to.

    :class:`~manifold_fm.errors.RunFolderExistsError` when ``out_dir/ckpt.pt`` exists and
    neither ``resume`` nor ``overwrite`` is set; nothing in the folder is touched.
    """
    if resume or overwrite or not (out_dir / CKPT_NAME).is_file():
        return
    raise RunFolderExistsError(
        f"run folder {str(out_dir)!r} holds the checkpoint of another run "
        f"({CKPT_NAME}); to continue it set resume = true (mfm: --set train.resume=true), to "
        "start a new run there set overwrite = true (its checkpoint and metrics are "
        "replaced), or choose another out_dir"
    )


class Trainer:
    """Train ``model`` on ``space`` from ``data`` (see the module docstring).

    Args:
        space: any :class:`~manifold_fm.spaces.base.Space`.
        model: ``model(x_t, t, **cond) -> output``; moved to the training device.
        data: Tensor ``(n, *event_shape)``, dict of tensors with ``"x1"``, Dataset or
            DataLoader (:mod:`manifold_fm.train.batches`). Batch key ``"mask"`` goes to
            ``space.path(mask=)`` and to the model; other keys are model conditions.
            Tensor data is checked whole with ``space.validate`` here, loader data batch
            by batch (``TrainConfig.validate_batches``): a bad row raises
            :class:`~manifold_fm.errors.DataValidationError` before any step.
        config: :class:`TrainConfig` (defaults if None).
        meta: plain-Python values stored in every checkpoint (the CLI stores the space /
            model / data sections here so ``mfm sample`` can rebuild the model).

    With ``resume`` and a checkpoint in ``out_dir``, the run must match the one that wrote
    it, else :class:`~manifold_fm.errors.ResumeMismatchError` names the keys that differ
    (:mod:`manifold_fm.train.resume_guard`); nothing is restored or rewritten then.
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
        cfg = check_arguments(space, model, config)
        if cfg.out_dir is not None:
            check_run_folder(Path(cfg.out_dir), cfg.resume, cfg.overwrite)
        if cfg.self_condition:
            check_self_condition(model)
        self.config, self.space, self.meta = cfg, space, dict(meta or {})
        self.device, self.dist = setup_device(cfg)
        self.parts = parts = build_parts(model, cfg, self.device, self.dist)
        self._cond_keys_checked: frozenset[str] | None = None
        self.model, self.ema, self.optimizer = parts.model, parts.ema, parts.optimizer
        self.dtype, self.amp = parts.dtype, parts.amp
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
            check=self._check_data,
            check_batch=self._check_loader_batch if cfg.validate_batches else None,
        )
        self.coupling = get_coupling(cfg.coupling, cfg.coupling_options)
        self.time_sampler = make_time_sampler(
            cfg.time_sampling, cfg.logit_normal_mean, cfg.logit_normal_std
        )
        self.step = 0
        self.meter = LossMeter(self.device)
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else None
        self.metrics = MetricsLog(self.out_dir) if self.out_dir is not None else None
        self.ckpt_path: Path | None = None
        # what a checkpoint records of this run (hashes the data: only when one is written)
        self._run = run_fingerprint(space, self.model, data) if self.out_dir else None
        if cfg.resume and self.out_dir is not None and (self.out_dir / CKPT_NAME).is_file():
            self.load(self.out_dir / CKPT_NAME)
        elif self.metrics is not None and self.dist.is_main:
            self.metrics.trim(-1)  # a new run in this folder: no rows of an earlier one
        if self.out_dir is not None and self.dist.is_main:
            ckpt.remove_stale_temps(self.out_dir / CKPT_NAME)  # left by a writer killed mid-write

    # -- public views -----------------------------------------------------------------
    @property
    def ema_model(self) -> nn.Module:
        """The EMA-averaged model (eval mode), for evaluation and sampling."""
        return self.ema.module

    @property
    def losses(self) -> list[float]:
        """Mean loss of each closed logging window."""
        return self.meter.losses

    @property
    def loss_steps(self) -> list[int]:
        """The step at which each logging window closed."""
        return self.meter.loss_steps

    # -- one step ---------------------------------------------------------------------
    def _check_data(self, batch: dict[str, Tensor], where: str) -> None:
        check_batch(self.space, batch, where)
        # every condition key must be read by the model (cond_dropout needs cond_drop too);
        # a loader repeats its keys, so each key set is checked against the model once
        keys = frozenset(k for k in batch if k not in BATCH_KEYS)
        if keys != self._cond_keys_checked:
            cond = dict.fromkeys(keys)
            check_cond(self.parts.model, cond, guidance=bool(keys) and self.config.cond_dropout > 0)
            self._cond_keys_checked = keys

    def _check_loader_batch(self, batch: dict[str, Tensor], where: str) -> None:
        self._check_data(batch, f"{where}, step {self.step + 1}")

    def _train_step(self, batch: dict[str, Tensor]) -> None:
        """One optimiser step on ``batch`` (read only: the dict is not modified)."""
        cfg, space, g, dev = self.config, self.space, self.generator, self.device
        x1, mask = batch["x1"], batch.get("mask")
        cond: dict[str, Any] = {k: v for k, v in batch.items() if k not in BATCH_KEYS}
        n = x1.shape[0]
        # the batch's mask reaches the prior as it reaches the path (SE(3): x0 centred over
        # the real residues); passed only when there is one, so mask-less spaces need no
        # mask parameter
        x0 = space.sample_prior(
            n,
            generator=g,
            device=dev,
            dtype=x1.dtype if x1.is_floating_point() else None,
            **({} if mask is None else {"mask": mask}),
        )
        mask_kw = {"mask": mask} if uses_mask(self.coupling) else {}
        pair = self.coupling(space, x0, x1, g, **mask_kw)  # a coupling may declare uses_mask
        t = self.time_sampler(n, g, dev, self.dtype)
        sample = space.path(pair.x0, pair.x1, t, generator=g, mask=mask)
        if cond and cfg.cond_dropout > 0:
            drop = torch.rand(n, generator=g, device=dev) < cfg.cond_dropout
            cond = with_dropped(cond, drop)
        if mask is not None:
            cond = {**cond, "mask": mask}
        with self.parts.autocast:
            if cfg.self_condition:
                cond = self_condition(self.parts.forward, space, sample.x_t, t, cond, g)
            out = self.parts.forward(sample.x_t, t, **cond)
        if out.is_floating_point() and out.dtype != self.dtype:
            out = out.to(self.dtype)
        loss = weighted_loss(space, out, sample, cfg.loss_form, cfg.loss_weighting).mean()
        self.parts.update(loss, self.step + 1, cfg)
        self.meter.add(loss)

    def _log(self, pbar: Any, t_start: float, step_start: int) -> None:
        """Close a logging window: check finiteness, record the mean, append metrics."""
        self.meter.check_finite(self.dist, self.ckpt_path)
        mean = self.meter.close_window(self.step, self.dist)
        wall = time.perf_counter() - t_start
        rate = (self.step - step_start) / max(wall, 1e-9)
        if pbar is not None:
            pbar.set_postfix(loss=f"{mean:.4f}", steps_s=f"{rate:.1f}", refresh=False)
        if self.dist.is_main and self.metrics is not None:
            lr = self.optimizer.param_groups[0]["lr"]
            self.metrics.append(
                {"step": self.step, "loss": mean, "lr": lr, "steps_per_s": rate, "wall_s": wall}
            )

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (:func:`.checkpoint.training_state`);
        a collective call under DDP."""
        return ckpt.training_state(self, self._run)

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Check the loss is finite, then write a checkpoint atomically.

        Every rank must call it (the state is gathered); rank 0 alone writes.
        """
        self.meter.check_finite(self.dist, self.ckpt_path)
        if path is None:
            if self.out_dir is None:
                raise ValueError("Trainer.save: no path given and TrainConfig.out_dir is None")
            path = self.out_dir / CKPT_NAME
        state = self.state_dict()  # collective under DDP: every rank takes part
        if self.dist.is_main:
            ckpt.save_checkpoint(state, path)
        if self.dist.enabled:
            dist.barrier()  # no rank reads the file before rank 0 has replaced it
        self.ckpt_path = Path(path)
        return self.ckpt_path

    def load(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint written by :meth:`save` (weights_only load).

        Raises ResumeMismatchError, before anything is restored or rewritten, when the
        checkpoint's run differs from this one; a Trainer without ``out_dir`` compares
        the TrainConfig and ``meta`` only (it does not fingerprint its data).
        """
        state = ckpt.load_checkpoint(path)
        check_resume(state, self.config, self._run or {}, self.meta, path)
        ckpt.restore_training_state(self, state, path)
        if self.dist.is_main and self.metrics is not None:
            self.metrics.trim(self.step)  # the file reads as one uninterrupted run
        self.ckpt_path = Path(path)
        cfg = self.config
        if self.meter.since_log and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
            # fit() saves a logging step's checkpoint just before closing its window: close
            # it now, and log its row if a kill between the two writes lost it
            self.meter.check_finite(self.dist, self.ckpt_path)
            mean = self.meter.close_window(self.step, self.dist)
            main_log = self.metrics if self.dist.is_main else None
            if main_log is not None and self.step not in main_log.steps():
                lr = self.optimizer.param_groups[0]["lr"]
                row = {"step": self.step, "loss": mean, "lr": lr}
                main_log.append({**row, "steps_per_s": None, "wall_s": None})

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
            pbar = progress(total=stop, initial=self.step, desc="train")
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
            self.meter.check_finite(self.dist, self.ckpt_path)
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
