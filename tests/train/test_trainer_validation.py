"""The Trainer checks its data against the space before any step, and leaves it untouched.

Each bad input raises DataValidationError naming the offending row (and, for loaders, the
batch and step) before a step runs, and no checkpoint or metrics file is written.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from discrete_fm import CTMCSpace
from manifold_fm import SO3, FlatTorus, Sphere
from manifold_fm.errors import DataValidationError
from manifold_fm.nn import TimeMLP
from manifold_fm.train import TrainConfig, Trainer
from manifold_fm.train.batches import BatchStream


def _cfg(out_dir, **kw) -> TrainConfig:
    base = dict(steps=4, batch_size=16, lr=1e-3, warmup_steps=1, log_every=1, ckpt_every=1)
    base.update(kw)
    return TrainConfig(out_dir=str(out_dir), progress=False, device="cpu", **base)


def _mlp(space, **kw) -> TimeMLP:
    torch.manual_seed(0)
    return TimeMLP.for_space(space, hidden=16, depth=2, time_dim=8, **kw)


def _sphere_points(n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return Sphere(2).projx(torch.randn(n, 3, generator=g) + torch.tensor([0.0, 0.0, 2.0]))


class _Tokens(nn.Module):
    """Logits (n, L, V) from one-hot tokens (the mask id V included)."""

    def __init__(self, vocab: int, length: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.vocab, self.length = vocab, length
        self.net = nn.Linear(length * (vocab + 1) + 1, length * vocab)
        self.calls = 0

    def forward(self, x, t):
        self.calls += 1
        h = nn.functional.one_hot(x, self.vocab + 1).float().flatten(1)
        return self.net(torch.cat([h, t.reshape(-1, 1).float()], 1)).view(
            -1, self.length, self.vocab
        )


class _CountingMLP(nn.Module):
    def __init__(self, space) -> None:
        super().__init__()
        self.net, self.calls = _mlp(space), 0

    def forward(self, x, t):
        self.calls += 1
        return self.net(x, t)


def _nothing_written(out) -> bool:
    return not out.exists() or not any(out.iterdir())


def _bad_rows():
    """(case id, space, model, data, first bad row)."""
    x = _sphere_points()
    scaled = x.clone()
    scaled[5] *= 5.0  # off S^2: norm 5
    nan = x.clone()
    nan[7, 1] = float("nan")
    g = torch.Generator().manual_seed(1)
    angles = torch.rand(64, 2, generator=g) * 2 * math.pi
    degrees = torch.rad2deg(angles)
    first_deg = int((degrees > 2 * math.pi).any(-1).nonzero()[0, 0])
    so3 = SO3()
    rot = so3.sample_prior(64, generator=torch.Generator().manual_seed(2))
    rot[3] = rot[3] * 1.3  # no longer orthogonal
    ctmc = CTMCSpace(5, 4, "mask")
    tokens = torch.randint(5, (64, 4), generator=torch.Generator().manual_seed(3))
    tokens[9, 2] = 5  # the mask id is no data token; ids live in [0, 5)
    neg = tokens.clone()
    neg[9, 2], neg[11, 0] = 1, -1
    return [
        ("sphere_scaled_by_5", Sphere(2), _mlp(Sphere(2)), scaled, 5),
        ("sphere_nan_row", Sphere(2), _mlp(Sphere(2)), {"x1": nan}, 7),
        ("torus_in_degrees", FlatTorus(2), _mlp(FlatTorus(2)), degrees, first_deg),
        ("so3_scaled_by_1_3", so3, _mlp(so3), rot, 3),
        ("ctmc_id_equal_to_vocab", ctmc, _Tokens(5, 4), tokens, 9),
        ("ctmc_negative_id", ctmc, _Tokens(5, 4), neg, 11),
    ]


@pytest.mark.parametrize("case", _bad_rows(), ids=lambda c: c[0])
def test_bad_tensor_rows_raise_naming_the_row_before_any_step(tmp_path, case):
    _, space, model, data, row = case
    out = tmp_path / "run"
    with pytest.raises(DataValidationError, match=rf"row {row}\b") as info:
        Trainer(space, model, data, _cfg(out)).fit()
    assert isinstance(info.value, ValueError)
    assert "'x1'" in str(info.value)
    assert _nothing_written(out)


def test_wrong_trailing_shape_is_a_typed_error_not_a_matmul_error(tmp_path):
    out = tmp_path / "run"
    s = Sphere(2)
    x = torch.randn(64, 4)  # R^4 points for S^2 (event shape (3,))
    with pytest.raises(DataValidationError, match=r"trailing shape \(3,\)"):
        Trainer(s, _mlp(s), x, _cfg(out)).fit()
    assert _nothing_written(out)


def test_nan_condition_row_is_named(tmp_path):
    out = tmp_path / "run"
    s = Sphere(2)
    cond = torch.zeros(64, 2)
    cond[12, 0] = float("inf")
    with pytest.raises(DataValidationError, match=r"'style'.*row 12 contains inf"):
        Trainer(s, _mlp(s), {"x1": _sphere_points(), "style": cond}, _cfg(out)).fit()
    assert _nothing_written(out)


def test_loader_batch_is_checked_before_its_step(tmp_path):
    out = tmp_path / "run"
    s = Sphere(2)
    x = _sphere_points()
    x[40] *= 5.0  # in batch 2 (rows 32..47) of an unshuffled loader, row 8 of that batch
    model = _CountingMLP(s)
    loader = DataLoader(TensorDataset(x), batch_size=16)
    trainer = Trainer(s, model, loader, _cfg(out, log_every=10, ckpt_every=0))
    with pytest.raises(DataValidationError, match=r"batch 2 of epoch 0, step 3.*row 8\b"):
        trainer.fit()
    assert model.calls == 2  # steps 1 and 2 ran; step 3 never did
    assert trainer.step == 2
    assert _nothing_written(out)


class _Items(Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"x1": self.x[i]}


def test_dataset_batch_with_a_nan_item_raises_at_step_1(tmp_path):
    out = tmp_path / "run"
    s = Sphere(2)
    x = _sphere_points()
    x[:, 0] = float("nan")  # every item: whatever the sampler draws first is bad
    with pytest.raises(DataValidationError, match=r"Dataset batch 0 of epoch 0, step 1.*NaN"):
        Trainer(s, _mlp(s), _Items(x), _cfg(out)).fit()
    assert _nothing_written(out)


def test_validate_batches_false_turns_the_loader_check_off(tmp_path):
    s = Sphere(2)
    x = _sphere_points() * 5.0  # off the sphere everywhere
    loader = DataLoader(TensorDataset(x), batch_size=16)
    with pytest.raises(DataValidationError):
        Trainer(s, _mlp(s), loader, _cfg(tmp_path / "a", steps=2)).fit()
    res = Trainer(s, _mlp(s), loader, _cfg(tmp_path / "b", steps=2, validate_batches=False)).fit()
    assert res.steps == 2  # trained, unchecked, as asked


def test_good_data_passes_and_the_callers_dicts_are_untouched(tmp_path):
    s = Sphere(2)
    x, labels = _sphere_points(), torch.arange(64) % 2
    data = {"x1": x, "label": labels}
    before = {k: (v, v.clone()) for k, v in data.items()}
    Trainer(s, _mlp(s, n_classes=2), data, _cfg(tmp_path / "a", cond_dropout=0.5)).fit()
    assert list(data) == ["x1", "label"]
    for k, (obj, copy) in before.items():
        assert data[k] is obj and torch.equal(data[k], copy)

    shared = {"x1": x[:16].clone(), "label": labels[:16].clone()}
    keys = list(shared)
    loader = DataLoader(TensorDataset(x), batch_size=16, collate_fn=lambda items: shared)
    Trainer(s, _mlp(s, n_classes=2), loader, _cfg(tmp_path / "b")).fit()
    assert list(shared) == keys  # the batch dict the loader yields keeps every key
    assert torch.equal(shared["x1"], x[:16]) and torch.equal(shared["label"], labels[:16])


class _SameDict(BatchStream):
    """A stream that hands out one and the same dict every step."""

    def __init__(self, batch: dict[str, torch.Tensor]) -> None:
        self.batch = batch

    def next(self) -> dict[str, torch.Tensor]:
        return self.batch

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def test_the_step_reads_the_batch_dict_without_changing_it(tmp_path):
    s = Sphere(2)
    x, labels = _sphere_points(16), torch.arange(16) % 2
    batch = {"x1": x, "label": labels}
    trainer = Trainer(s, _mlp(s, n_classes=2), _sphere_points(), _cfg(tmp_path / "a", steps=3))
    trainer.batches = _SameDict(batch)
    trainer.fit()  # a step that popped "x1" would fail with KeyError on the second step
    assert list(batch) == ["x1", "label"]
    assert batch["x1"] is x and batch["label"] is labels
