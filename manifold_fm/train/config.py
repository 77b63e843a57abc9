"""Training configuration: the dataclass behind a TOML ``[train]`` section.

``TrainConfig`` holds every knob of :class:`manifold_fm.train.Trainer`. An unknown or
mistyped key is a ``ValueError`` naming the key and the closest valid one, so
``lr_shedule = "cosine"`` fails loudly instead of being ignored; a value of the wrong type
(``progress = "false"``, ``steps = 2.5``) is a ``TypeError`` naming key and value. The
choice-valued settings are checked against the tables of their implementations
(:data:`~manifold_fm.train.lr.LR_SCHEDULES`, :data:`~manifold_fm.train.timesampling.TIME_SAMPLERS`,
:data:`~manifold_fm.couplings.COUPLINGS`). The run-level sections ``[space]``, ``[model]``,
``[data]`` belong to the ``mfm`` command (:mod:`manifold_fm.cli.run_config`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from manifold_fm.couplings import COUPLINGS, get_coupling
from manifold_fm.keyword_check import check_keys, check_types, closest, type_hints
from manifold_fm.train.loss_forms import LOSS_FORMS, LOSS_WEIGHTINGS
from manifold_fm.train.lr import LR_SCHEDULES
from manifold_fm.train.timesampling import TIME_SAMPLERS

__all__ = ["AMP_MODES", "TRAIN_CHOICES", "TrainConfig"]

#: mixed-precision modes of the Trainer's forward pass
AMP_MODES = ("auto", "bf16", "off")


class _Choices(Mapping[str, tuple[str, ...]]):
    """Setting -> its allowed values, each read from the table that implements it when asked,
    so a coupling that a domain package registers later
    (:func:`~manifold_fm.couplings.register_coupling`) is a valid choice."""

    _TABLES: ClassVar[dict[str, Callable[[], Iterable[str]]]] = {
        "lr_schedule": lambda: LR_SCHEDULES,
        "time_sampling": lambda: TIME_SAMPLERS,
        "coupling": lambda: COUPLINGS,
        "amp": lambda: AMP_MODES,
        "loss_form": lambda: LOSS_FORMS,
        "loss_weighting": lambda: LOSS_WEIGHTINGS,
    }

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return tuple(self._TABLES[key]())

    def __iter__(self) -> Iterator[str]:
        return iter(self._TABLES)

    def __len__(self) -> int:
        return len(self._TABLES)


#: setting -> its allowed values, each list taken from the code that implements it
TRAIN_CHOICES: Mapping[str, tuple[str, ...]] = _Choices()


@dataclass
class TrainConfig:
    """Every setting of a training run (defaults are a sensible small-model recipe).

    Attributes:
        steps: total optimiser steps.
        batch_size: examples per step (per rank under DDP).
        lr, weight_decay: AdamW settings.
        warmup_steps: linear warmup from 0 to ``lr``.
        lr_schedule: 'cosine' (decay to 0 at ``steps``) or 'constant' after warmup.
        grad_clip: max global gradient norm (<= 0 disables clipping).
        ema_decay: EMA decay per step, warmed up as min(decay, (1+k)/(10+k)) (0: EMA =
            current weights).
        time_sampling: 'uniform' on [0, 1], 'logit_normal' (t = sigmoid(N(m, s^2))) or
            'stratified' ((u + i/n) mod 1: even cover of [0, 1) per batch).
        logit_normal_mean, logit_normal_std: m and s of the logit-normal.
        coupling: name in :data:`manifold_fm.couplings.COUPLINGS` ('independent', 'ot'
            (blocked exact OT), 'ot_exact', 'sinkhorn').
        coupling_options: keyword options of the coupling, e.g. ``{"block_size": 256}``
            for 'ot' or ``{"epsilon": 0.05, "iters": 200}`` for 'sinkhorn' (TOML:
            ``coupling_options = {block_size = 256}``); checked at construction.
        cond_dropout: probability of dropping the condition of a row (classifier-free
            guidance); the model then receives ``cond_drop`` (bool, (n,)).
        amp: 'auto' (bf16 on CUDA, off on CPU), 'bf16' (also on CPU), 'off'.
        compile: wrap the model's forward in ``torch.compile``.
        device: 'auto' (CUDA when present), or any torch device string.
        seed: base seed; rank r uses seed + 1000003 * r for its generators.
        out_dir: folder for checkpoints and metrics.jsonl (None: nothing written).
        ckpt_every: write a checkpoint every k steps (0: only at the end; needs out_dir).
        log_every: read the loss (one host sync) and check it is finite every k steps.
        progress: show a tqdm bar (rank 0 only).
        resume: continue from ``out_dir/ckpt.pt`` when it exists.
        overwrite: start a new run in an ``out_dir`` that holds another run's checkpoint,
            replacing its checkpoint and metrics; without it (and without ``resume``) such a
            folder is refused before any work (:class:`~manifold_fm.errors.RunFolderExistsError`).
        num_workers: DataLoader workers when ``data`` is a Dataset.
        validate_batches: check every Dataset/DataLoader batch with ``space.validate``
            before its step (tensor data is checked once, whole, at construction).
        loss_form: 'velocity' (``space.loss``) or 'x1' (the clean-point error at x_t; see
            the module manifold_fm.train.loss_forms).
        loss_weighting: 'none' or 'frameflow' (the error divided by 1 - min(t, 0.9)).
        self_condition: feed the model its own no-grad clean-point estimate as
            ``self_cond`` on half the batches (the model must take ``self_cond``).
    """

    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    lr_schedule: str = "cosine"
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    time_sampling: str = "uniform"
    logit_normal_mean: float = 0.0
    logit_normal_std: float = 1.0
    coupling: str = "independent"
    coupling_options: dict[str, Any] = field(default_factory=dict)
    cond_dropout: float = 0.0
    amp: str = "auto"
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    out_dir: str | None = None
    ckpt_every: int = 0
    log_every: int = 50
    progress: bool = True
    resume: bool = False
    overwrite: bool = False
    num_workers: int = 0
    validate_batches: bool = True
    loss_form: str = "velocity"
    loss_weighting: str = "none"
    self_condition: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {v!r}")
        for name in ("warmup_steps", "ckpt_every", "seed", "num_workers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"TrainConfig.{name} must be an int >= 0, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"TrainConfig.ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ValueError(
                f"TrainConfig.cond_dropout must be in [0, 1), got {self.cond_dropout!r}"
            )
        if not self.logit_normal_std > 0:
            raise ValueError(
                f"TrainConfig.logit_normal_std must be > 0, got {self.logit_normal_std!r}"
            )
        for name, allowed in TRAIN_CHOICES.items():
            v = getattr(self, name)
            if v not in allowed and not callable(v):  # a coupling may be passed as a function
                near = closest(str(v), allowed, cutoff=0.6)
                hint = f" (did you mean {near!r}?)" if near else ""
                raise ValueError(
                    f"TrainConfig.{name} must be one of {list(allowed)}, got {v!r}{hint}"
                )

        if not isinstance(self.coupling_options, dict):
            raise TypeError(
                f"TrainConfig.coupling_options must be a table, got {self.coupling_options!r}"
            )
        get_coupling(self.coupling, self.coupling_options)  # unknown option or bad value

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "[train]") -> TrainConfig:
        """Build from a dict, rejecting unknown keys (closest valid key named) and values
        whose type does not match the field's annotation."""
        check_keys(d, [f.name for f in fields(cls)], where)
        check_types(d, type_hints(cls), where)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (safe for TOML, JSON and ``torch.load(weights_only=True)``)."""
        return dataclasses.asdict(self)


#: TrainConfig keys a resume may change: they steer how long the run goes and what it
#: writes or shows, never the maths of a step (``num_workers`` only changes how fast a
#: Dataset is read, ``resume`` is the request itself). Every other TrainConfig key, the
#: space, the model and the data must match the checkpoint (see
#: :mod:`manifold_fm.train.resume_guard`).
RESUME_FREE_KEYS: tuple[str, ...] = (
    "steps",
    "overwrite",
    "ckpt_every",
    "log_every",
    "progress",
    "out_dir",
    "validate_batches",
    "resume",
    "num_workers",
)
