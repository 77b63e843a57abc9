"""Config values are checked by name and by type before anything is built or trained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from manifold_fm.cli.registry import DATASETS, MODELS, SPACES
from manifold_fm.cli.run_config import load_run_config
from manifold_fm.couplings import COUPLINGS
from manifold_fm.keyword_check import ConfigKeyError, ConfigTypeError, check_types, type_hints
from manifold_fm.train import TrainConfig
from manifold_fm.train.config import TRAIN_CHOICES
from manifold_fm.train.lr import LR_SCHEDULES
from manifold_fm.train.timesampling import TIME_SAMPLERS

RUN = (
    '[space]\nkind = "sphere"\nd = 2\n[model]\nkind = "mlp"\nhidden = 8\n'
    '[data]\nkind = "vmf_mixture"\nn = 50\n'
)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(text)
    return p


def test_a_typo_of_the_kind_key_is_named_and_kind_suggested(tmp_path):
    bad = _write(tmp_path, RUN.replace('kind = "sphere"', 'kindd = "sphere"'))
    with pytest.raises(ConfigKeyError, match=r"\[space\].*'kindd'.*did you mean 'kind'"):
        load_run_config(bad)


def test_an_unknown_section_key_lists_kind_among_the_valid_keys():
    with pytest.raises(ConfigKeyError, match=r"'kindx'.*valid keys: .*\bkind\b"):
        SPACES.build({"kind": "sphere", "kindx": "torus"})


@pytest.mark.parametrize("value", ["false", "true", 0, 1])
def test_a_non_bool_is_not_accepted_for_a_boolean_builder_key(value):
    s = SPACES.build({"kind": "sphere", "d": 2})
    with pytest.raises(ConfigTypeError, match=r"tangent = .*expected bool \| None"):
        MODELS.build({"kind": "mlp", "hidden": 8, "tangent": value}, s)
    assert MODELS.build({"kind": "mlp", "hidden": 8, "tangent": False}, s) is not None


@pytest.mark.parametrize("value", [25.7, 25.0, True, "25"])
def test_a_non_int_is_not_accepted_for_an_integer_builder_key(value):
    s = SPACES.build({"kind": "sphere", "d": 2})
    with pytest.raises(ConfigTypeError, match=r"\[model\] kind='mlp': hidden = "):
        MODELS.build({"kind": "mlp", "hidden": value}, s)
    with pytest.raises(ConfigTypeError, match=r"\[space\] kind='sphere': d = "):
        SPACES.build({"kind": "sphere", "d": value})


def test_an_int_is_accepted_for_a_float_key_and_lists_for_shapes():
    d = DATASETS.build(
        {"kind": "vmf_mixture", "n": 20, "kappa": 10}, SPACES.build({"kind": "sphere"})
    )
    assert d["x1"].shape == (20, 3)
    e = SPACES.build({"kind": "euclidean", "shape": [2, 3]})
    assert tuple(e.event_shape) == (2, 3)
    with pytest.raises(ConfigTypeError, match="shape"):
        SPACES.build({"kind": "euclidean", "shape": [2, 3.5]})


@pytest.mark.parametrize(
    ("key", "value"),
    [("progress", "false"), ("steps", 2.5), ("batch_size", 25.7), ("lr", "1e-3"), ("resume", 1)],
)
def test_train_section_rejects_values_of_the_wrong_type(tmp_path, key, value):
    with pytest.raises(ConfigTypeError, match=rf"\[train\]: {key} = "):
        TrainConfig.from_dict({key: value})
    text = RUN + f"[train]\n{key} = {value!r}\n".replace("'", '"')
    with pytest.raises(ConfigTypeError, match=key):
        load_run_config(_write(tmp_path, text))


def test_train_section_accepts_its_own_defaults_and_an_int_learning_rate():
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), "lr": 1})
    assert cfg.lr == 1 and cfg.progress is True


def test_every_choice_list_is_the_table_of_its_implementation():
    assert TRAIN_CHOICES["lr_schedule"] == tuple(LR_SCHEDULES)
    assert TRAIN_CHOICES["time_sampling"] == tuple(TIME_SAMPLERS)
    assert TRAIN_CHOICES["coupling"] == tuple(COUPLINGS)
    with pytest.raises(ValueError, match=r"coupling must be one of .*did you mean 'ot'"):
        TrainConfig(coupling="ott")
    with pytest.raises(ValueError, match=r"time_sampling must be one of \['uniform'"):
        TrainConfig(time_sampling="lognormal")


def test_generic_type_check_follows_annotations_not_key_names():
    def builder(a: int, b: float = 1.0, c: str | None = None, d: list[int] | None = None) -> None:
        pass

    hints = type_hints(builder)
    check_types({"a": 3, "b": 2, "c": None, "d": [1, 2]}, hints, "here")
    for bad in ({"a": 3.0}, {"b": "2"}, {"c": 4}, {"d": [1.5]}, {"a": False}):
        with pytest.raises(ConfigTypeError, match="here"):
            check_types(bad, hints, "here")


def test_mlp_tangent_true_on_a_non_manifold_space_is_an_error_not_ignored():
    pytest.importorskip("discrete_fm")
    ctmc = SPACES.build({"kind": "ctmc", "vocab_size": 5, "length": 4})
    with pytest.raises(ValueError, match="tangent = true needs a manifold space"):
        MODELS.build({"kind": "mlp", "hidden": 8, "tangent": True}, ctmc)


def test_vmf_mixture_checks_the_space_by_its_points_not_its_class_name():
    class Renamed(type(SPACES.build({"kind": "sphere"}))):
        pass

    d = DATASETS.build({"kind": "vmf_mixture", "n": 10}, Renamed(2))
    assert torch.allclose(d["x1"].norm(dim=-1), torch.ones(10))
    with pytest.raises(ValueError, match=r"FlatTorus: row 0 is off the manifold"):
        DATASETS.build({"kind": "vmf_mixture", "n": 10}, SPACES.build({"kind": "torus", "d": 3}))
