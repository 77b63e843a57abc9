"""Trainer: learning, exact resume, NaN stop, bf16 autocast, masks, tokens, couplings."""

from __future__ import annotations

import json

import pytest
import torch
from _train_helpers import (
    MaskAwareMLP,
    MaskedPlane,
    TokenModel,
    ToyTokens,
    cap_data,
    tiny_mlp,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from manifold_fm import Euclidean, FlatTorus, ProductSpace, Sphere
from manifold_fm.train import (
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    collate_batch,
    load_checkpoint,
)


def cfg(**kw) -> TrainConfig:
    base = dict(steps=40, batch_size=64, lr=3e-3, warmup_steps=5, log_every=10, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_loss_decreases_on_sphere():
    s = Sphere(2)
    res = Trainer(s, tiny_mlp(s), cap_data(), cfg(steps=150, log_every=25)).fit()
    assert res.steps == 150
    assert len(res.losses) == 6 and res.loss_steps[-1] == 150
    assert res.losses[-1] < 0.7 * res.losses[0]
    assert res.final_loss == res.losses[-1]


def _params(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.state_dict().values()]


class _Rows(torch.utils.data.Dataset):
    def __init__(self, x, labels):
        self.x, self.labels = x, labels

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x1": self.x[i], "label": self.labels[i]}


@pytest.mark.parametrize("kind", ["tensor", "dataset", "loader"])
def test_resume_is_bit_exact(tmp_path, kind):
    s = Sphere(2)
    x = cap_data(256)
    labels = (x[:, 0] > 0).long()
    if kind == "tensor":
        data = {"x1": x, "label": labels}
    elif kind == "dataset":
        data = _Rows(x, labels)
    else:  # a user DataLoader whose order depends only on the epoch
        rows = _Rows(x, labels)
        sampler = DistributedSampler(rows, num_replicas=1, rank=0, shuffle=True, seed=5)
        data = DataLoader(rows, batch_size=64, sampler=sampler, collate_fn=collate_batch)
    extra = dict(cond_dropout=0.3, time_sampling="logit_normal", ema_decay=0.9, log_every=7)

    full = Trainer(s, tiny_mlp(s, n_classes=2), data, cfg(steps=30, **extra))
    full.fit()

    part = Trainer(s, tiny_mlp(s, n_classes=2), data, cfg(steps=30, out_dir=str(tmp_path), **extra))
    part.fit(until=13)
    assert load_checkpoint(tmp_path / "ckpt.pt")["step"] == 13
    c = cfg(steps=30, out_dir=str(tmp_path), resume=True, **extra)
    resumed = Trainer(s, tiny_mlp(s, n_classes=2), data, c)
    assert resumed.step == 13
    res = resumed.fit()
    assert res.steps == 30
    for a, b in zip(_params(full.model), _params(resumed.model)):
        assert torch.equal(a, b)
    for a, b in zip(_params(full.ema_model), _params(resumed.ema_model)):
        assert torch.equal(a, b)
    assert full.losses == resumed.losses  # logging windows continue exactly too


@settings(deadline=None, max_examples=6)
@given(until=st.integers(1, 19), log_every=st.integers(1, 8), ckpt_every=st.integers(0, 6))
def test_resume_at_any_step_matches_uninterrupted(tmp_path_factory, until, log_every, ckpt_every):
    s = Sphere(2)
    data = cap_data(128)
    extra = dict(steps=20, batch_size=32, log_every=log_every)
    full = Trainer(s, tiny_mlp(s), data, cfg(**extra))
    full.fit()
    out = str(tmp_path_factory.mktemp("run"))
    Trainer(s, tiny_mlp(s), data, cfg(out_dir=out, ckpt_every=ckpt_every, **extra)).fit(until)
    resumed = Trainer(s, tiny_mlp(s), data, cfg(out_dir=out, resume=True, **extra))
    assert resumed.step == until
    resumed.fit()
    for a, b in zip(_params(full.model), _params(resumed.model)):
        assert torch.equal(a, b)
    assert full.losses == resumed.losses


class _NaNAfter(nn.Module):
    """Finite outputs for the first k calls, NaN afterwards."""

    def __init__(self, space, k: int) -> None:
        super().__init__()
        self.net = tiny_mlp(space)
        self.k, self.calls = k, 0

    def forward(self, x, t):
        self.calls += 1
        out = self.net(x, t)
        return out * float("nan") if self.calls > self.k else out


def test_nan_loss_stops_naming_step_and_keeps_last_good_checkpoint(tmp_path):
    s = Sphere(2)
    c = cfg(steps=100, out_dir=str(tmp_path), ckpt_every=5, log_every=5)
    trainer = Trainer(s, _NaNAfter(s, 12), cap_data(), c)
    with pytest.raises(NonFiniteLossError, match="step 13") as info:
        trainer.fit()
    assert info.value.step == 13
    assert isinstance(info.value, RuntimeError)
    assert "ckpt.pt" in str(info.value)
    state = load_checkpoint(tmp_path / "ckpt.pt")
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_bf16_autocast_on_cpu_runs_the_model_in_bf16():
    s = Sphere(2)
    model = tiny_mlp(s)
    seen: list[torch.dtype] = []
    model.head.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    res = Trainer(s, model, cap_data(), cfg(steps=20, amp="bf16")).fit()
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert torch.isfinite(torch.tensor(res.losses)).all()
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_amp_off_keeps_float32_and_float64_model_trains_in_float64():
    s = Sphere(2)
    model = tiny_mlp(s).double()
    seen: list[torch.dtype] = []
    model.head.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    Trainer(s, model, cap_data(), cfg(steps=5, amp="auto")).fit()
    assert seen and all(d == torch.float64 for d in seen)


def test_masks_reach_path_and_model():
    space = MaskedPlane(5)
    lengths = torch.tensor([2, 5, 3, 4] * 16)
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    x1 = torch.randn(64, 5, 2, generator=torch.Generator().manual_seed(0))
    model = MaskAwareMLP(5)
    Trainer(space, model, {"x1": x1, "mask": mask}, cfg(steps=6, batch_size=16)).fit()
    assert len(model.seen_masks) == 6
    for m in model.seen_masks:
        assert m is not None and m.dtype == torch.bool and m.shape == (16, 5)


@pytest.mark.parametrize(
    "space",
    [Euclidean((2, 3)), FlatTorus(2), ProductSpace(Sphere(2), FlatTorus(1))],
    ids=["euclidean_2x3", "torus", "sphere_x_torus"],
)
def test_same_trainer_for_other_spaces(space):
    g = torch.Generator().manual_seed(0)
    x1 = space.sample_prior(256, generator=g)
    res = Trainer(space, tiny_mlp(space), x1, cfg(steps=10, log_every=5)).fit()
    assert res.steps == 10 and all(torch.isfinite(torch.tensor(res.losses)))


def test_long_token_points_are_not_cast_to_float():
    space, model = ToyTokens(), TokenModel()
    x1 = torch.randint(5, (128, 4), generator=torch.Generator().manual_seed(0))
    res = Trainer(space, model, x1, cfg(steps=60, log_every=20, lr=1e-2)).fit()
    assert set(model.dtypes) == {torch.long}
    assert res.losses[-1] < res.losses[0]


def test_ot_coupling_trains_and_metrics_jsonl(tmp_path):
    s = Euclidean(2)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(1)) * 0.1 + 2.0
    res = Trainer(s, tiny_mlp(s), x, cfg(steps=20, coupling="ot", out_dir=str(tmp_path))).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]
    assert [r["loss"] for r in rows] == res.losses
    assert all(r["steps_per_s"] > 0 and r["lr"] >= 0 for r in rows)


def test_bad_arguments_raise_typed_errors():
    s = Sphere(2)
    with pytest.raises(TypeError, match="TrainConfig"):
        Trainer(s, tiny_mlp(s), cap_data(), {"steps": 3})
    with pytest.raises(TypeError, match="Space"):
        Trainer("sphere", tiny_mlp(s), cap_data(), cfg())
    with pytest.raises(ValueError, match="out_dir"):
        Trainer(s, tiny_mlp(s), cap_data(), cfg(ckpt_every=5))
    with pytest.raises(TypeError, match="data must be"):
        Trainer(s, tiny_mlp(s), [1, 2, 3], cfg())
    with pytest.raises(ValueError, match="'x1'"):
        Trainer(s, tiny_mlp(s), {"points": cap_data()}, cfg())
    with pytest.raises(ValueError, match="until"):
        Trainer(s, tiny_mlp(s), cap_data(), cfg()).fit(until=1000)


def test_progress_bar_shows_loss_and_rate(capsys):
    s = Sphere(2)
    Trainer(s, tiny_mlp(s), cap_data(), cfg(steps=4, log_every=2, progress=True)).fit()
    err = capsys.readouterr().err
    assert "train" in err and "loss=" in err and "steps_s=" in err
