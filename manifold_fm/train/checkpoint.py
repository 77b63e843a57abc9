"""Crash-safe checkpoints: atomic write (temp file + ``os.replace``), safe load.

A checkpoint is a dict of tensors and plain Python values (no pickled objects), so it is
read with ``torch.load(weights_only=True)``. The write goes to a temporary file in the
same folder, is flushed and fsync'ed, then renamed over the target: a reader (or a run
killed with SIGKILL mid-write) sees either the old complete file or the new one, never a
torn file.

A training checkpoint (:func:`training_state`, put back by
:func:`restore_training_state`) holds the weights, EMA, optimizer, loss window and each
rank's random streams and data position, so a resume continues bit-exactly.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from manifold_fm._io import atomic_write, remove_stale_temps
from manifold_fm.train.batches import BatchStream
from manifold_fm.train.config import TrainConfig
from manifold_fm.train.distributed import DistInfo, rank_seed
from manifold_fm.train.ema import EMA
from manifold_fm.train.loss_meter import LossMeter

__all__ = [
    "Resumable",
    "load_checkpoint",
    "remove_stale_temps",
    "restore_training_state",
    "save_checkpoint",
    "training_state",
]


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (:func:`manifold_fm._io.atomic_write`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(state, f)

    return atomic_write(path, write)


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; FileNotFoundError/ValueError if bad.

    An empty file or one that is not a torch archive is named as such before torch reads
    it (no loader internals in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    size = path.stat().st_size
    if size == 0 or not zipfile.is_zipfile(path):
        what = "is empty" if size == 0 else f"is not a torch checkpoint ({size} bytes, no archive)"
        raise ValueError(f"checkpoint {str(path)!r} {what}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for unreadable files
        raise ValueError(f"checkpoint {str(path)!r} could not be read: {err}") from err
    if not isinstance(state, dict) or "step" not in state:
        raise ValueError(f"checkpoint {str(path)!r} is not a manifold-fm training checkpoint")
    return state


class Resumable(Protocol):
    """What a training checkpoint is taken from and put back into (the Trainer)."""

    step: int
    model: nn.Module
    ema: EMA
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    batches: BatchStream
    meter: LossMeter
    dist: DistInfo
    config: TrainConfig
    meta: dict[str, Any]


def _rank_state(tr: Resumable) -> dict[str, Any]:
    """This rank's random streams, data position and device loss accumulator."""
    st: dict[str, Any] = {
        "generator": tr.generator.get_state(),
        "torch": torch.get_rng_state(),
        "batches": tr.batches.state_dict(),
        "loss_sum": tr.meter.total.detach().cpu(),
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def training_state(tr: Resumable, fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    """Everything ``tr`` needs to continue exactly (tensors and plain values only).

    ``ranks[r]`` holds rank r's random streams and data position: under DDP this is a
    collective call (all_gather_object). ``config``, ``meta`` and ``fingerprint``
    (:func:`~manifold_fm.train.resume_guard.run_fingerprint`, when given) record the run.
    """
    own = _rank_state(tr)
    ranks: list[Any] = [own]
    if tr.dist.enabled:
        ranks = [None] * tr.dist.world_size
        dist.all_gather_object(ranks, own)
    state = {
        "step": tr.step,
        "model": tr.model.state_dict(),
        "ema": tr.ema.state_dict(),
        "optimizer": tr.optimizer.state_dict(),
        "ranks": ranks,
        "log": tr.meter.state_dict(),
        "config": tr.config.to_dict(),
        "meta": tr.meta,
        "world_size": tr.dist.world_size,
    }
    if fingerprint is not None:
        state["fingerprint"] = fingerprint
    return state


def restore_training_state(tr: Resumable, state: dict[str, Any], path: str | os.PathLike) -> None:
    """Put :func:`training_state`'s ``state`` back into ``tr`` (in place).

    With another world size than the checkpoint's there is no state of this rank to put
    back: weights and step carry over, the generator is reseeded from (seed, rank, step)
    and the open loss window restarts, with a warning (not bit-exact by nature).
    """
    tr.model.load_state_dict(state["model"])
    tr.ema.load_state_dict(state["ema"])
    tr.optimizer.load_state_dict(state["optimizer"])
    tr.step = int(state["step"])
    ranks = state["ranks"]
    if len(ranks) == tr.dist.world_size:
        own = ranks[tr.dist.rank]
        tr.generator.set_state(own["generator"])
        tr.batches.load_state_dict(own["batches"])
        torch.set_rng_state(own["torch"])
        if "cuda" in own and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(own["cuda"])
        tr.meter.total.copy_(own["loss_sum"])
    else:
        warnings.warn(
            f"checkpoint {path} was written by {len(ranks)} ranks, resuming with "
            f"{tr.dist.world_size}: random streams reseeded",
            stacklevel=3,
        )
        tr.generator.manual_seed(rank_seed(tr.config.seed, tr.dist.rank) + tr.step)
        tr.meter.total.zero_()
    tr.meter.load_state_dict(state["log"], tr.step)
