"""Resume refuses a changed run and names what changed; the checkpoint stays untouched.

A run is stopped at step 5 of 10; resuming it with another model, space, data, optimizer
setting or caller config raises ResumeMismatchError naming the keys, and asking for fewer
steps than the checkpoint holds says so. The keys of RESUME_FREE_KEYS may change.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from manifold_fm import Sphere
from manifold_fm.errors import ResumeMismatchError
from manifold_fm.nn import TimeMLP
from manifold_fm.train import TrainConfig, Trainer
from manifold_fm.train.config import RESUME_FREE_KEYS

STOP = 5


def _points(seed: int = 0, n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return Sphere(2).projx(torch.randn(n, 3, generator=g) + torch.tensor([0.0, 0.0, 2.0]))


def _mlp(hidden: int = 16) -> TimeMLP:
    torch.manual_seed(0)
    return TimeMLP.for_space(Sphere(2), hidden=hidden, depth=2, time_dim=8, n_classes=2)


class _Renamed(TimeMLP):
    """The same parameter shapes under another class: a different model all the same."""


def _cfg(out, **kw) -> TrainConfig:
    base = dict(steps=10, batch_size=16, lr=1e-3, warmup_steps=2, log_every=1, ckpt_every=1)
    base.update(kw)
    return TrainConfig(out_dir=str(out), progress=False, device="cpu", **base)


def _run(out, space=None, model=None, data=None, meta=None, **kw) -> Trainer:
    space = Sphere(2) if space is None else space
    data = _points() if data is None else data
    meta = {"run": {"model": {"kind": "mlp", "hidden": 16}}} if meta is None else meta
    return Trainer(space, _mlp() if model is None else model, data, _cfg(out, **kw), meta=meta)


def _snapshot(out) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(out.iterdir())}


@pytest.fixture
def stopped(tmp_path):
    """A run stopped at step STOP of 10 (checkpoint + metrics in ``tmp_path / 'run'``)."""
    out = tmp_path / "run"
    _run(out).fit(until=STOP)
    return out


def _renamed_model() -> nn.Module:
    torch.manual_seed(0)
    return _Renamed.for_space(Sphere(2), hidden=16, depth=2, time_dim=8, n_classes=2)


CHANGES = {
    "optimizer_lr": (dict(lr=2e-3), ["train.lr"]),
    "optimizer_decay_and_clip": (
        dict(weight_decay=0.1, grad_clip=0.5),
        ["train.grad_clip", "train.weight_decay"],
    ),
    "ema_decay": (dict(ema_decay=0.9), ["train.ema_decay"]),
    "batch_size": (dict(batch_size=32), ["train.batch_size"]),
    "model_architecture": (dict(model=_mlp(hidden=32)), "model.tensors."),
    "model_class": (dict(model=_renamed_model()), ["model.type"]),
    "model_config_in_meta": (
        dict(meta={"run": {"model": {"kind": "mlp", "hidden": 24}}}),
        ["meta.run.model.hidden"],
    ),
    "space": (dict(space=Sphere(2, schedule="cosine")), ["space"]),
    "data_values": (dict(data=_points(seed=1)), ["data.x1"]),
    "data_keys": (dict(data={"x1": _points(), "label": torch.zeros(64).long()}), ["data.label"]),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_changed_run_is_refused_naming_the_keys(stopped, change):
    kw, expected = CHANGES[change]
    before = _snapshot(stopped)
    with pytest.raises(ResumeMismatchError) as info:
        _run(stopped, resume=True, **kw)
    err = info.value
    assert isinstance(err, ValueError) and "ckpt.pt" in str(err)
    if isinstance(expected, str):  # a prefix: every differing parameter is a key
        assert err.keys and all(k.startswith(expected) for k in err.keys)
    else:
        assert err.keys == expected
    for key in err.keys[:8]:
        assert key in str(err)
    assert "\n" not in str(err)  # one line: the CLI prints it as one error line
    assert _snapshot(stopped) == before  # checkpoint and metrics untouched


def test_fewer_steps_than_the_checkpoint_holds_is_refused(stopped):
    before = _snapshot(stopped)
    with pytest.raises(ResumeMismatchError, match=rf"holds {STOP} steps.*steps=3") as info:
        _run(stopped, resume=True, steps=3)
    assert info.value.keys == ["train.steps"]
    assert _snapshot(stopped) == before


def test_the_free_keys_may_change_and_the_run_continues(stopped):
    assert {"steps", "ckpt_every", "log_every", "progress", "out_dir"} <= set(RESUME_FREE_KEYS)
    meta = {"run": {"model": {"kind": "mlp", "hidden": 16}, "train": {"steps": 12}}}
    kw = dict(steps=12, log_every=3, ckpt_every=0, validate_batches=False, num_workers=1)
    trainer = _run(stopped, resume=True, meta=meta, **kw)
    assert trainer.step == STOP
    assert trainer.fit().steps == 12


def test_a_loader_run_is_refused_when_its_dataset_changes(tmp_path):
    out = tmp_path / "run"
    loader = DataLoader(TensorDataset(_points()), batch_size=16)
    _run(out, data=loader).fit(until=STOP)
    before = _snapshot(out)
    other = DataLoader(TensorDataset(_points(n=48)), batch_size=16)
    with pytest.raises(ResumeMismatchError) as info:
        _run(out, data=other, resume=True)
    assert info.value.keys == ["data.len"]
    assert _snapshot(out) == before
    assert _run(out, data=loader, resume=True).step == STOP  # the same loader resumes
