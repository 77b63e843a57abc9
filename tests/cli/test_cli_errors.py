"""``mfm`` reports every bad input as one ``mfm: error: ...`` line (exit 2), in its own terms."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from manifold_fm.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPHERE = ROOT / "configs" / "sphere_mlp.toml"


def _train(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "run"
    argv = ["train", str(SPHERE), "--set", "train.steps=3", "--set", "train.progress=false"]
    argv += ["--set", f"train.out_dir='{out}'", "--set", "data.n=64", "--set", "model.hidden=8"]
    for e in extra:
        argv += ["--set", e]
    assert main(argv) == 0
    return out / "ckpt.pt"


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mfm: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("uncond"))


@pytest.mark.parametrize(
    ("option", "value"), [("--n", "0"), ("--n", "-5"), ("--steps", "2.5"), ("--steps", "0")]
)
def test_counts_must_be_whole_numbers_at_least_one(capsys, unconditional, option, value):
    err = _error(capsys, ["sample", str(unconditional), option, value])
    assert f"argument {option}: must be a whole number >= 1, got '{value}'" in err


def test_method_lists_its_choices(capsys, unconditional):
    err = _error(capsys, ["sample", str(unconditional), "--method", "rk5"])
    for name in ("euler", "midpoint", "rk4", "dopri5"):
        assert name in err


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "-h"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "(default: 1000)" in out and "(default: euler)" in out and "(default: 100)" in out


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", b"PK\x03\x04garbage"])
def test_empty_or_garbage_checkpoint_gets_a_clear_message(capsys, tmp_path, content):
    bad = tmp_path / "ckpt.pt"
    bad.write_bytes(content)
    err = _error(capsys, ["sample", str(bad)])
    assert str(bad) in err and "mfm train" in err
    assert "weights_only" not in err and "Traceback" not in err


def test_a_checkpoint_holding_pickled_objects_is_refused_without_torch_advice(capsys, tmp_path):
    bad = tmp_path / "ckpt.pt"
    torch.save({"step": 1, "obj": Path("/x")}, bad)
    err = _error(capsys, ["sample", str(bad)])
    assert "cannot be read" in err and "weights_only" not in err


def test_cond_or_guidance_on_an_unconditional_model_is_an_error(capsys, tmp_path, unconditional):
    out = tmp_path / "s.pt"
    err = _error(capsys, ["sample", str(unconditional), "--cond", "label=1", "--out", str(out)])
    assert "--cond 'label=1'" in err and "takes no condition" in err
    err = _error(capsys, ["sample", str(unconditional), "--guidance-scale", "2"])
    assert "--guidance-scale needs --cond" in err
    assert not out.exists()


def test_cond_typo_and_guidance_without_cond_dropout_speak_option_names(capsys, tmp_path):
    ckpt = _train(tmp_path, "model.n_classes=4", "data.labels=true")
    err = _error(capsys, ["sample", str(ckpt), "--cond", "lable=1"])
    assert "--cond lable=...: the model takes ['label']; did you mean 'label'?" in err
    err = _error(capsys, ["sample", str(ckpt), "--cond", "label=1", "--guidance-scale", "2"])
    assert err.startswith("mfm: error: --guidance-scale") and "train.cond_dropout > 0" in err


def test_config_type_errors_are_one_line(capsys):
    err = _error(capsys, ["train", str(SPHERE), "--set", "model.hidden=25.7"])
    assert "hidden = 25.7" in err and "expected int" in err
    err = _error(capsys, ["train", str(SPHERE), "--set", 'model.tangent="false"'])
    assert "tangent = 'false'" in err
    err = _error(capsys, ["train", str(SPHERE), "--set", "space.kindx=torus"])
    assert "'kindx'" in err and "kind" in err.split("valid keys:")[1]


def test_missing_data_file_is_one_line(capsys, tmp_path):
    cfg = ROOT / "configs" / "earth_volcano.toml"
    err = _error(capsys, ["train", str(cfg), "--set", f"data.root='{tmp_path}'"])
    assert "earth/volerup.csv" in err


def test_the_console_command_prints_one_line_and_exits_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    bad = tmp_path / "empty.pt"
    bad.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "manifold_fm.cli", "sample", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("mfm: error: ") and proc.stderr.count("\n") == 1
    assert "is empty" in proc.stderr


def test_the_demo_checkpoint_samples_with_mfm_sample(capsys, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--steps", "4", "--n-eval", "16", "--out", str(out), "--no-progress"]) == 0
    samples = tmp_path / "s.pt"
    argv = ["sample", str(out / "ckpt.pt"), "--n", "7", "--steps", "3", "--out", str(samples)]
    assert main(argv) == 0, capsys.readouterr().err
    x = torch.load(samples, weights_only=True)["x"]
    assert x.shape == (7, 3) and torch.allclose(x.norm(dim=-1), torch.ones(7), atol=1e-5)


def test_library_errors_are_reworded_as_options(capsys, unconditional):
    err = _error(capsys, ["sample", str(unconditional), "--device", "cuda:7"])
    assert "--device 'cuda:7'" in err and "TrainConfig" not in err
    err = _error(capsys, ["sample", str(unconditional), "--device", "nonsense"])
    assert "--device 'nonsense'" in err


def test_a_fixed_step_method_on_a_token_space_is_refused_in_option_terms(capsys, tmp_path):
    pytest.importorskip("discrete_fm")
    from manifold_fm.train import save_checkpoint

    run = {
        "space": {"kind": "ctmc", "vocab_size": 5, "length": 4},
        "model": {"kind": "transformer", "dim": 8, "depth": 1, "heads": 2},
        "data": {"kind": "text"},
        "train": {},
    }
    from manifold_fm.cli.registry import MODELS, SPACES

    model = MODELS.build(run["model"], SPACES.build(run["space"]))
    save_checkpoint({"step": 1, "ema": model.state_dict(), "meta": {"run": run}}, tmp_path / "c.pt")
    err = _error(capsys, ["sample", str(tmp_path / "c.pt"), "--method", "rk4"])
    assert "--method rk4" in err and "--method euler" in err
    assert (
        main(
            [
                "sample",
                str(tmp_path / "c.pt"),
                "--n",
                "3",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "s.pt"),
            ]
        )
        == 0
    )
