"""Trainer building blocks: config/TOML errors, LR schedule, EMA, time sampling, batches,
atomic checkpoints."""

from __future__ import annotations

import itertools
import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from manifold_fm.cli.registry import DATASETS, MODELS, SPACES
from manifold_fm.cli.run_config import apply_override, load_run_config, parse_value
from manifold_fm.train import (
    EMA,
    EpochSampler,
    TrainConfig,
    collate_batch,
    load_checkpoint,
    remove_stale_temps,
    save_checkpoint,
)
from manifold_fm.train.lr import lr_factor
from manifold_fm.train.timesampling import make_time_sampler


# -- config -------------------------------------------------------------------------
def test_unknown_key_names_the_closest_valid_key():
    with pytest.raises(ValueError, match=r"'lr_shedule'.*did you mean 'lr_schedule'"):
        TrainConfig.from_dict({"lr_shedule": "cosine"})
    with pytest.raises(ValueError, match=r"did you mean 'cosine'"):
        TrainConfig(lr_schedule="cosin")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_toml_roundtrip_and_overrides(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(
        '[space]\nkind = "sphere"\nd = 2\n[model]\nkind = "mlp"\nhidden = 16\n'
        '[data]\nkind = "vmf_mixture"\nn = 100\n[train]\nsteps = 7\n'
    )
    run = load_run_config(p, ["train.lr=3e-4", "model.hidden=8", "train.lr_schedule=constant"])
    assert run.train.steps == 7 and run.train.lr == 3e-4
    assert run.train.lr_schedule == "constant" and run.model["hidden"] == 8
    assert run.to_dict()["train"]["steps"] == 7
    with pytest.raises(ValueError, match=r"did you mean 'train'"):
        load_run_config(p, ["trian.lr=1"])
    with pytest.raises(ValueError, match=r"section\.key=value"):
        apply_override({}, "lr")
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_run_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[space]\nkind = "sphere"\n[model]\nkind = "mlp"\n')
    with pytest.raises(ValueError, match=r"\[data\]"):
        load_run_config(bad)
    assert parse_value("3") == 3 and parse_value("true") is True and parse_value("abc") == "abc"


def test_registry_errors_name_closest():
    with pytest.raises(ValueError, match=r"did you mean 'sphere'"):
        SPACES.build({"kind": "spere"})
    s = SPACES.build({"kind": "sphere", "d": 2})
    with pytest.raises(ValueError, match=r"'hiden'.*did you mean 'hidden'"):
        MODELS.build({"kind": "mlp", "hiden": 3}, s)
    with pytest.raises(ValueError, match="Sphere"):
        DATASETS.build({"kind": "vmf_mixture"}, SPACES.build({"kind": "torus", "d": 2}))
    with pytest.raises(FileNotFoundError):
        DATASETS.build({"kind": "tensor_file", "path": "no/such/file.pt", "root": "/"}, s)


def test_vmf_mixture_dataset_is_concentrated_per_label():
    s = SPACES.build({"kind": "sphere", "d": 2})
    d = DATASETS.build({"kind": "vmf_mixture", "n": 4000, "k": 3, "kappa": 50.0, "labels": True}, s)
    x, lab = d["x1"].double(), d["label"]
    assert torch.allclose(x.norm(dim=-1), torch.ones(4000, dtype=torch.float64), atol=1e-6)
    for j in range(3):
        r = float(x[lab == j].mean(0).norm())  # mean resultant length: coth(k) - 1/k = 0.98
        assert abs(r - 0.98) < 0.01


def test_registry_builds_every_shipped_kind():
    torus = SPACES.build({"kind": "torus", "d": 3})
    net = MODELS.build({"kind": "mlp", "hidden": 16, "depth": 2, "periodic": True}, torus)
    x = torus.sample_prior(5)
    out = net(x, torch.rand(5))
    assert out.shape == (5, 3)
    # periodic input: shifting an angle by 2 pi leaves the field unchanged
    assert torch.allclose(net(x + 2 * math.pi, torch.zeros(5)), net(x, torch.zeros(5)), atol=1e-5)
    ctmc = SPACES.build({"kind": "ctmc", "vocab_size": 7, "length": 5})
    tr = MODELS.build({"kind": "transformer", "dim": 16, "depth": 1, "heads": 2}, ctmc)
    toks = ctmc.sample_prior(3)
    assert tr(toks, torch.rand(3)).shape == (3, 5, 7)
    so3 = SPACES.build({"kind": "so3"})
    assert so3.sample_prior(2).shape == (2, 3, 3)


# -- LR, EMA, times -----------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(total=st.integers(2, 500), warmup=st.integers(0, 50))
def test_lr_factor_warmup_then_cosine_to_zero(total, warmup):
    warmup = min(warmup, total - 1)
    f = [lr_factor(s, total, warmup, "cosine") for s in range(1, total + 1)]
    assert all(0.0 <= v <= 1.0 for v in f)
    if warmup:
        assert f[warmup - 1] == 1.0 and f[0] == pytest.approx(1 / warmup)
        assert all(a <= b for a, b in itertools.pairwise(f[:warmup]))
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(f[warmup:]))
    assert f[-1] == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(total, total, warmup, "constant") == 1.0 or warmup == total


def test_ema_is_the_lerp_formula():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    ema = EMA(model, 0.9)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update()
    for e, b, p in zip(ema.module.parameters(), before, model.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * p)
        assert not e.requires_grad
    assert not ema.module.training
    assert ema.decay_at(1) == pytest.approx(2 / 11) and ema.decay_at(10**6) == 0.9
    warm = EMA(model, 0.999)
    start = [p.clone() for p in warm.module.parameters()]
    warm.update(step=1)  # warmup: d_1 = 2/11, the new weights dominate
    for e, b, p in zip(warm.module.parameters(), start, model.parameters()):
        assert torch.allclose(e, 2 / 11 * b + 9 / 11 * p)
    zero = EMA(model, 0.0)
    zero.update()
    for e, p in zip(zero.module.parameters(), model.parameters()):
        assert torch.equal(e, p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_time_samplers(dtype):
    g = torch.Generator().manual_seed(0)
    u = make_time_sampler("uniform")(20000, g, torch.device("cpu"), dtype)
    ln = make_time_sampler("logit_normal", 0.5, 1.0)(20000, g, torch.device("cpu"), dtype)
    for t in (u, ln):
        assert t.dtype == dtype and t.shape == (20000,)
        assert bool(((t >= 0) & (t <= 1)).all())
    assert abs(float(u.mean()) - 0.5) < 0.01
    assert abs(float(ln.median()) - 1 / (1 + math.exp(-0.5))) < 0.01
    with pytest.raises(ValueError, match="logit_normal"):
        make_time_sampler("lognormal")


def test_stratified_times_cover_each_stratum_once():
    g = torch.Generator().manual_seed(1)
    t = make_time_sampler("stratified")(64, g, torch.device("cpu"), torch.float64)
    assert bool(((t >= 0) & (t < 1)).all())
    strata = torch.floor(t * 64).long().sort().values
    assert strata.tolist() == list(range(64))


# -- batches ------------------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_collate_pads_with_valid_points_and_masks(lengths):
    items = [
        {"x1": torch.randn(n, 3), "tokens": torch.arange(n), "label": torch.tensor(i)}
        for i, n in enumerate(lengths)
    ]
    b = collate_batch(items)
    width = max(lengths)
    assert b["x1"].shape == (len(lengths), width, 3)
    assert b["label"].tolist() == list(range(len(lengths)))
    if len(set(lengths)) > 1:
        assert b["mask"].sum(1).tolist() == lengths
        for i, n in enumerate(lengths):
            assert torch.equal(b["x1"][i, :n], items[i]["x1"])
            assert torch.equal(b["x1"][i, n:], items[i]["x1"][:1].expand(width - n, 3))
            assert b["tokens"].dtype == torch.long
    else:
        assert "mask" not in b


def test_collate_rejects_mismatched_items():
    with pytest.raises(ValueError, match="keys"):
        collate_batch([{"x1": torch.zeros(2)}, {"x1": torch.zeros(2), "y": torch.zeros(1)}])
    with pytest.raises(ValueError, match="first dim"):
        collate_batch([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(TypeError, match="Tensor, a dict"):
        collate_batch([[1, 2]])


def test_tensor_dataset_loader_gives_x1_and_label():
    from torch.utils.data import DataLoader, TensorDataset

    from manifold_fm.train import make_batches

    x, y = torch.randn(20, 3), torch.arange(20)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, drop_last=True)
    stream = make_batches(
        loader, batch_size=8, device=torch.device("cpu"), float_dtype=torch.float64, seed=0
    )
    firsts = [stream.next() for _ in range(3)]  # two batches per epoch, then a new epoch
    assert firsts[0]["x1"].dtype == torch.float64 and firsts[0]["label"].dtype == torch.long
    assert torch.equal(firsts[2]["label"], firsts[0]["label"])
    assert stream.state_dict() == {"epoch": 1, "consumed": 1}


@settings(deadline=None, max_examples=15)
@given(n=st.integers(4, 50), world=st.integers(1, 3), start=st.integers(0, 5))
def test_epoch_sampler_shards_disjointly_and_resumes(n, world, start):
    shards = []
    for r in range(world):
        s = EpochSampler(n, r, world, seed=3)
        s.epoch = 2
        shards.append(list(s))
        s.start = min(start, len(shards[-1]))
        assert list(s) == shards[-1][s.start :]
    flat = [i for sh in shards for i in sh]
    assert len(flat) == len(set(flat)) == world * (n // world)


# -- checkpoints --------------------------------------------------------------------
def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def torn_save(obj, f):  # writes half a file, then "crashes"
        f.write(b"garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temp file left behind
    (tmp_path / ".ckpt.pt.abc.tmp").write_bytes(b"torn")  # as after a SIGKILL mid-write
    (tmp_path / "keep.tmp").write_bytes(b"x")
    assert [p.name for p in remove_stale_temps(path)] == [".ckpt.pt.abc.tmp"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt", "keep.tmp"]


class Evil:
    """An arbitrary pickled object: weights_only loading must refuse it."""


def test_checkpoint_load_is_weights_only(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"step": 0, "obj": Evil()}, p)
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(p)
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a manifold-fm"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
