"""Training configuration: dataclasses that map one-to-one onto TOML files.

``TrainConfig`` holds every knob of :class:`manifold_fm.train.Trainer`. ``RunConfig`` adds
the three registry-named sections a command-line run needs (``[space]``, ``[model]``,
``[data]``, each with a ``kind`` and that builder's keyword arguments) plus ``[train]``.
An unknown or mistyped key is a ``ValueError`` naming the key and the closest valid one
(difflib), so ``lr_shedule = "cosine"`` fails loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "RunConfig",
    "TrainConfig",
    "apply_override",
    "check_keys",
    "load_run_config",
    "parse_value",
]

_CHOICES = {
    "lr_schedule": ("cosine", "constant"),
    "time_sampling": ("uniform", "logit_normal", "stratified"),
    "amp": ("auto", "bf16", "off"),
}


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
        coupling: name in :data:`manifold_fm.couplings.COUPLINGS` ('independent', 'ot').
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
        num_workers: DataLoader workers when ``data`` is a Dataset.
        validate_batches: check every Dataset/DataLoader batch with ``space.validate``
            before its step (tensor data is checked once, whole, at construction).
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
    num_workers: int = 0
    validate_batches: bool = True

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
        for name, allowed in _CHOICES.items():
            v = getattr(self, name)
            if v not in allowed:
                close = difflib.get_close_matches(str(v), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"TrainConfig.{name} must be one of {list(allowed)}, got {v!r}{hint}"
                )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "[train]") -> TrainConfig:
        """Build from a dict, rejecting unknown keys with the closest valid key named."""
        check_keys(d, [f.name for f in fields(cls)], where)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (safe for TOML, JSON and ``torch.load(weights_only=True)``)."""
        return dataclasses.asdict(self)


def check_keys(d: dict[str, Any], valid: list[str], where: str) -> None:
    """Raise ValueError for the first key of ``d`` not in ``valid``, naming the closest."""
    for key in d:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown key {key!r} in {where}{hint} (valid keys: {', '.join(sorted(valid))})"
            )


@dataclass
class RunConfig:
    """A full run: which space, model and data (by registry name) and how to train.

    TOML layout::

        [space]  kind = "sphere"  d = 2
        [model]  kind = "mlp"     hidden = 256
        [data]   kind = "vmf_mixture"  n = 20000
        [train]  steps = 2000 ...

    ``space``, ``model`` and ``data`` keep their ``kind`` plus builder keywords (checked
    against the builder's signature by :mod:`manifold_fm.train.registry`).
    """

    space: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> RunConfig:
        """Build from a parsed TOML dict; unknown sections/keys raise ValueError."""
        check_keys(d, ["space", "model", "data", "train"], where)
        sections = {}
        for name in ("space", "model", "data"):
            sec = d.get(name)
            if not isinstance(sec, dict) or "kind" not in sec:
                raise ValueError(f"{where}: section [{name}] with a 'kind' key is required")
            sections[name] = dict(sec)
        train = TrainConfig.from_dict(dict(d.get("train", {})), f"{where} [train]")
        return cls(train=train, **sections)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict with the four sections."""
        return {
            "space": dict(self.space),
            "model": dict(self.model),
            "data": dict(self.data),
            "train": self.train.to_dict(),
        }


def parse_value(text: str) -> Any:
    """Parse a command-line value as a TOML value (``3``, ``1e-3``, ``true``, ``"a"``).

    Bare words that are not TOML (``cosine``) are taken as strings.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(d: dict[str, Any], assignment: str) -> None:
    """Apply ``section.key=value`` (e.g. ``train.lr=3e-4``) to a parsed TOML dict in place."""
    if "=" not in assignment:
        raise ValueError(f"--set expects section.key=value, got {assignment!r}")
    path, value = assignment.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) != 2 or not all(keys):
        raise ValueError(
            f"--set expects section.key=value with one dot (e.g. train.lr=3e-4), got {path!r}"
        )
    section, key = keys
    check_keys({section: None}, ["space", "model", "data", "train"], "--set")
    d.setdefault(section, {})[key] = parse_value(value.strip())


def load_run_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a TOML run config, apply ``section.key=value`` overrides, validate it."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist")
    try:
        d = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {err}") from err
    for a in overrides:
        apply_override(d, a)
    return RunConfig.from_dict(d, where=str(p))


#: TrainConfig keys a resume may change: they steer how long the run goes and what it
#: writes or shows, never the maths of a step (``num_workers`` only changes how fast a
#: Dataset is read, ``resume`` is the request itself). Every other TrainConfig key, the
#: space, the model and the data must match the checkpoint (see
#: :mod:`manifold_fm.train.resume_guard`).
RESUME_FREE_KEYS: tuple[str, ...] = (
    "steps",
    "ckpt_every",
    "log_every",
    "progress",
    "out_dir",
    "validate_batches",
    "resume",
    "num_workers",
)
