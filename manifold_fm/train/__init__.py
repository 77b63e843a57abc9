"""Training: one Trainer for every Space, with checkpoints, EMA, DDP and configs.

``Trainer(space, model, data, TrainConfig(...)).fit()`` -> :class:`TrainResult`;
``trainer.ema_model`` is the averaged model for sampling. See :mod:`.trainer` for the
step, :mod:`.config` for the TOML-backed settings and :mod:`.registry` for the names
the ``mfm`` command uses.
"""

from manifold_fm.train.batches import EpochSampler, collate_batch, make_batches
from manifold_fm.train.checkpoint import load_checkpoint, remove_stale_temps, save_checkpoint
from manifold_fm.train.config import RunConfig, TrainConfig, load_run_config
from manifold_fm.train.ema import EMA
from manifold_fm.train.trainer import NonFiniteLossError, Trainer, TrainResult

__all__ = [
    "EMA",
    "EpochSampler",
    "NonFiniteLossError",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "collate_batch",
    "load_checkpoint",
    "load_run_config",
    "make_batches",
    "remove_stale_temps",
    "save_checkpoint",
]
