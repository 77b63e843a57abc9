"""Training: one Trainer for every Space, with checkpoints, EMA, DDP and configs.

``Trainer(space, model, data, TrainConfig(...)).fit()`` -> :class:`TrainResult`;
``trainer.ema_model`` is the averaged model for sampling. See :mod:`.trainer` for the
step and :mod:`.config` for the TOML-backed settings; the ``mfm`` command's run files
and kind registries live in :mod:`manifold_fm.cli`.
"""

from manifold_fm.train.batches import EpochSampler, collate_batch, make_batches
from manifold_fm.train.checkpoint import load_checkpoint, remove_stale_temps, save_checkpoint
from manifold_fm.train.config import TrainConfig
from manifold_fm.train.ema import EMA
from manifold_fm.train.trainer import NonFiniteLossError, Trainer, TrainResult

__all__ = [
    "EMA",
    "EpochSampler",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "collate_batch",
    "load_checkpoint",
    "make_batches",
    "remove_stale_temps",
    "save_checkpoint",
]
