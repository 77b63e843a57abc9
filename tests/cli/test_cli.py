"""The ``mfm`` command: train from TOML, sample from the checkpoint, config errors, demo."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from manifold_fm.cli import main
from manifold_fm.cli.run_config import load_run_config
from manifold_fm.keyword_check import ConfigKeyError
from manifold_fm.train import load_checkpoint

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    run = load_run_config(path)
    assert run.train.steps >= 1 and run.space["kind"] and run.model["kind"]


def test_train_then_sample(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            str(CONFIGS / "sphere_mlp.toml"),
            "--set",
            "train.steps=30",
            "--set",
            "train.log_every=10",
            "--set",
            "train.progress=false",
            "--set",
            f"train.out_dir='{out}'",
            "--set",
            "data.n=500",
            "--set",
            "model.hidden=16",
            "--set",
            "model.n_classes=4",
            "--set",
            "data.labels=true",
            "--set",
            "train.cond_dropout=0.2",
        ]
    )
    assert rc == 0
    assert '"steps": 30' in capsys.readouterr().out
    state = load_checkpoint(out / "ckpt.pt")
    assert state["step"] == 30 and state["meta"]["run"]["model"]["hidden"] == 16
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3

    samples = tmp_path / "s.pt"
    argv = ["sample", str(out / "ckpt.pt"), "--n", "50", "--steps", "5", "--out", str(samples)]
    assert main([*argv, "--method", "midpoint"]) == 0
    assert '"nfe": 10' in capsys.readouterr().out  # midpoint: two evaluations per step
    x = torch.load(samples, weights_only=True)["x"]
    assert x.shape == (50, 3)
    assert torch.allclose(x.norm(dim=-1), torch.ones(50), atol=1e-5)

    guided = [*argv, "--cond", "label=1", "--guidance-scale", "2.0"]
    assert main(guided) == 0
    assert '"nfe": 10' in capsys.readouterr().out  # guided: two evaluations per step
    assert main([*argv, "--cond", "label"]) == 2
    assert "key=number" in capsys.readouterr().err

    # --out honours its ending: .npy and .csv hold the same samples as .pt; another ending
    # is refused before any work
    same = ["--method", "midpoint", "--seed", "3"]
    for name in ("s3.pt", "s3.npy", "s3.csv"):
        assert main([*argv[:-1], str(tmp_path / name), *same]) == 0
    ref = torch.load(tmp_path / "s3.pt", weights_only=True)["x"]
    assert torch.equal(torch.from_numpy(np.load(tmp_path / "s3.npy")), ref)
    from_csv = np.loadtxt(tmp_path / "s3.csv", delimiter=",", dtype=np.float32)
    assert torch.equal(torch.from_numpy(from_csv), ref)
    capsys.readouterr()
    assert main([*argv[:-1], str(tmp_path / "s.txt")]) == 2
    assert "unknown ending '.txt'; use one of .pt, .npy, .csv" in capsys.readouterr().err
    assert not (tmp_path / "s.txt").exists()


def test_typo_in_config_is_reported_with_the_closest_key(tmp_path, capsys):
    rc = main(["train", str(CONFIGS / "sphere_mlp.toml"), "--set", "train.lr_shedule=cosine"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "'lr_shedule'" in err and "did you mean 'lr_schedule'" in err
    rc = main(["train", str(CONFIGS / "sphere_mlp.toml"), "--set", "model.kind=mlpp"])
    assert rc == 2 and "did you mean 'mlp'" in capsys.readouterr().err


def test_sample_needs_a_cli_checkpoint(tmp_path, capsys):
    from manifold_fm.train import save_checkpoint

    save_checkpoint({"step": 1, "meta": {}}, tmp_path / "c.pt")
    assert main(["sample", str(tmp_path / "c.pt")]) == 2
    assert "run config" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "none.pt")]) == 2


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["--steps", "30", "--n-eval", "200", "--out", str(out), "--no-progress"]
    assert main(["demo", *argv]) == 0
    printed = capsys.readouterr().out
    assert "test NLL under the learned flow" in printed and "MMD^2" in printed
    figures = json.loads((out / "demo.json").read_text())
    for key in ("mmd2_samples_vs_data", "mmd2_prior_vs_data", "test_nll_nats", "true_entropy_nats"):
        assert math.isfinite(figures[key])
    assert figures["train_steps"] == 30
    assert (out / "demo.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.toml"))
)
def test_every_shipped_config_loads_and_builds(path):
    from manifold_fm.cli.registry import MODELS, SPACES

    run = load_run_config(path)
    space = SPACES.build(run.space)
    model = MODELS.build(run.model, space)
    x = space.sample_prior(2)
    out = model(x, torch.rand(2))
    assert tuple(out.shape) == (2, *space.output_shape)


def test_file_data_kind_reads_a_csv_beside_the_config(tmp_path, monkeypatch):
    """``[data] kind = "file"``: a relative path not under the working directory is found in
    the config file's folder; the points train like any data kind."""
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    rows = torch.nn.functional.normalize(
        torch.randn(64, 3, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    (cfg_dir / "pts.csv").write_text(
        "x,y,z\n" + "\n".join(",".join(f"{v:.8f}" for v in r) for r in rows.tolist())
    )
    (cfg_dir / "run.toml").write_text(
        '[space]\nkind = "sphere"\nd = 2\n[model]\nkind = "mlp"\nhidden = 8\ndepth = 1\n'
        '[data]\nkind = "file"\npath = "pts.csv"\n'
        f'[train]\nsteps = 2\nbatch_size = 16\nprogress = false\nout_dir = "{tmp_path / "out"}"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(cfg_dir / "run.toml")]) == 0
    assert (tmp_path / "out" / "ckpt.pt").is_file()
    from manifold_fm.cli.registry import DATASETS

    with pytest.raises(ConfigKeyError, match="config_dir"):  # filled by mfm, never by a config
        DATASETS.build({"kind": "file", "path": "pts.csv", "config_dir": str(cfg_dir)}, None)


def test_a_run_folder_is_never_silently_reused(tmp_path, capsys):
    """A second `mfm train` into a folder with a checkpoint is refused before any work (exit
    2, both ways out named), the first run's checkpoint and metrics untouched; resume and
    overwrite are the two ways on."""
    out = tmp_path / "out"
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[space]\nkind = "sphere"\nd = 2\n[model]\nkind = "mlp"\nhidden = 8\ndepth = 1\n'
        '[data]\nkind = "vmf_mixture"\nn = 200\n'
        f'[train]\nsteps = 4\nbatch_size = 16\nlog_every = 2\nprogress = false\nout_dir = "{out}"\n'
    )
    assert main(["train", str(cfg)]) == 0
    ckpt, metrics = (out / "ckpt.pt").read_bytes(), (out / "metrics.jsonl").read_text()
    capsys.readouterr()
    assert main(["train", str(cfg), "--set", "train.steps=2"]) == 2
    err = capsys.readouterr().err
    assert "holds the checkpoint of another run" in err and "resume = true" in err
    assert "overwrite = true" in err
    assert (out / "ckpt.pt").read_bytes() == ckpt and (out / "metrics.jsonl").read_text() == metrics
    assert main(["train", str(cfg), "--set", "train.steps=6", "--set", "train.resume=true"]) == 0
    assert load_checkpoint(out / "ckpt.pt")["step"] == 6
    assert main(["train", str(cfg), "--set", "train.steps=2", "--set", "train.overwrite=true"]) == 0
    assert load_checkpoint(out / "ckpt.pt")["step"] == 2
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2]  # the new run's rows only
