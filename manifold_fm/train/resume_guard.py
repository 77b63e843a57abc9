"""Resume refuses a changed run: what a checkpoint records of its run, and the comparison.

A checkpoint stores the run it came from as four sections:

* ``train``: the :class:`~manifold_fm.train.config.TrainConfig` (``state["config"]``);
* ``space``: ``repr(space)`` (every shipped space prints its parameters and schedule);
* ``model``: the model's class and the name, dtype and shape of every state tensor;
* ``data``: per tensor key, dtype, shape and a BLAKE2b digest of the bytes; for a Dataset
  or DataLoader, the dataset's class and length (and the loader's batch size);

plus ``meta``, the caller's own record (the ``mfm`` command stores its run config there).
:func:`check_resume` flattens stored and current sections to dotted keys
(``train.lr``, ``model.tensors.net.0.weight``, ``meta.run.model.hidden``) and raises
:class:`~manifold_fm.errors.ResumeMismatchError` naming every key that differs, except
the keys of :data:`~manifold_fm.train.config.RESUME_FREE_KEYS` (in ``train`` and as the
last part of a ``meta`` key), which steer how long a run goes and what it writes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sized
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from manifold_fm.errors import ResumeMismatchError
from manifold_fm.spaces.base import Space
from manifold_fm.train.config import RESUME_FREE_KEYS, TrainConfig

__all__ = ["check_resume", "data_fingerprint", "model_fingerprint", "run_fingerprint"]

# a default object repr carries a memory address, new in every process: not compared
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SHOWN = 8  # differing keys spelled out in the message; the rest are counted


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _tensor_fingerprint(t: Tensor) -> str:
    """``"float32[512, 3] blake2b:<32 hex>"``: dtype, shape and a digest of the bytes."""
    raw = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    digest = hashlib.blake2b(memoryview(raw), digest_size=16).hexdigest()
    return f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)} blake2b:{digest}"


def model_fingerprint(model: nn.Module) -> dict[str, Any]:
    """Class of ``model`` and ``{name: "dtype[shape]"}`` of its state dict (no values)."""
    tensors = {
        name: f"{str(v.dtype).removeprefix('torch.')}{list(v.shape)}"
        for name, v in model.state_dict().items()
    }
    return {"type": _qualname(model), "tensors": tensors}


def data_fingerprint(data: Any) -> dict[str, Any]:
    """Fingerprint of training data as :class:`~manifold_fm.train.Trainer` accepts it.

    Tensor -> ``{"x1": digest}``; dict of tensors -> ``{key: digest}``; DataLoader ->
    dataset class, length and batch size; Dataset -> class and length.
    """
    if isinstance(data, Tensor):
        return {"x1": _tensor_fingerprint(data)}
    if isinstance(data, Mapping):
        return {str(k): _tensor_fingerprint(v) for k, v in sorted(data.items())}
    if isinstance(data, DataLoader):
        ds = data.dataset
        n = len(ds) if isinstance(ds, Sized) else None  # an IterableDataset may have none
        return {"loader": _qualname(ds), "len": n, "batch_size": data.batch_size}
    if isinstance(data, Dataset):
        return {"dataset": _qualname(data), "len": len(data)}  # type: ignore[arg-type]
    raise TypeError(f"cannot fingerprint training data of type {type(data).__name__}")


def run_fingerprint(space: Space, model: nn.Module, data: Any) -> dict[str, Any]:
    """The ``space``, ``model`` and ``data`` sections a checkpoint stores (plain values)."""
    return {
        "space": _ADDRESS.sub("", repr(space)),
        "model": model_fingerprint(model),
        "data": data_fingerprint(data),
    }


def _flatten(d: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for k, v in d.items():
        key = (*prefix, str(k))
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _free(key: tuple[str, ...]) -> bool:
    if key[0] == "train":
        return len(key) == 2 and key[1] in RESUME_FREE_KEYS
    return key[0] == "meta" and key[-1] in RESUME_FREE_KEYS


_ABSENT = object()  # a key one side has and the other lacks


def _show(v: Any) -> str:
    text = "absent" if v is _ABSENT else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def check_resume(
    state: Mapping[str, Any],
    config: TrainConfig,
    current: Mapping[str, Any],
    meta: Mapping[str, Any],
    path: str | os.PathLike,
) -> None:
    """Raise ResumeMismatchError unless ``state`` was written by the same run.

    Args:
        state: a loaded training checkpoint (``step``, ``config``, ``meta``, and
            ``fingerprint`` = :func:`run_fingerprint` of its run when it has one).
        config: the TrainConfig of the run asking to resume.
        current: :func:`run_fingerprint` of the run asking to resume.
        meta: that run's ``meta``.
        path: the checkpoint's path, for the message.

    A checkpoint whose step exceeds ``config.steps`` is refused too (``train.steps``).
    Sections the checkpoint does not record are not compared; a TrainConfig key it does
    not record is compared against that key's default.
    """
    where = f"resume from {str(path)!r} refused"
    if not isinstance(state.get("config"), Mapping) or "model" not in state:
        raise ResumeMismatchError(f"{where}: it is not a Trainer checkpoint", ["config"])
    k = int(state["step"])
    if k > config.steps:
        raise ResumeMismatchError(
            f"{where}: the checkpoint holds {k} steps, more than TrainConfig.steps="
            f"{config.steps}; ask for steps >= {k} (or start a new out_dir)",
            ["train.steps"],
        )
    # a TrainConfig key the checkpoint predates is compared against its default
    train = {**TrainConfig().to_dict(), **state["config"]}
    stored = {"train": train, "meta": state.get("meta", {})}
    stored.update(state.get("fingerprint", {}))
    now = {"train": config.to_dict(), "meta": dict(meta), **current}
    old_flat = _flatten({k: v for k, v in stored.items() if k in now})
    new_flat = _flatten({k: v for k, v in now.items() if k in stored})
    diffs = []
    for key in sorted(old_flat.keys() | new_flat.keys()):
        a, b = old_flat.get(key, _ABSENT), new_flat.get(key, _ABSENT)
        if not _free(key) and a != b:
            diffs.append((".".join(key), a, b))
    if not diffs:
        return
    shown = [f"{name} ({_show(a)} in the checkpoint, {_show(b)} now)" for name, a, b in diffs]
    if len(shown) > _SHOWN:
        shown = [*shown[:_SHOWN], f"and {len(shown) - _SHOWN} more"]
    raise ResumeMismatchError(
        f"{where}: this run differs from the one that wrote it in {len(diffs)} key(s): "
        + "; ".join(shown)
        + f". Only {', '.join(RESUME_FREE_KEYS)} may change on resume: restore the other "
        "settings or start a new out_dir",
        [name for name, _, _ in diffs],
    )
