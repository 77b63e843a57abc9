"""``mfm train configs/protein*.toml`` and ``mfm sample --length --pdb-dir`` on real chains."""

from __future__ import annotations

import json
from pathlib import Path

import gemmi
import pytest
from _shared_data import PROTEIN_DATA, needs_proteins

from manifold_fm.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = PROTEIN_DATA
needs_data = needs_proteins
SMALL = [
    "model.dim=16",
    "model.edge_dim=8",
    "model.n_layers=1",
    "model.k=6",
    "data.n_files=4",
    "data.batch_size=2",
    "data.crop_length=32",
    "data.cache=''",
    "space.n_frames=32",
    "train.steps=2",
    "train.warmup_steps=1",
    "train.progress=false",
    "train.ckpt_every=0",
    "train.device='cpu'",
]


def train(config: str, tmp_path: Path) -> Path:
    sets = [*SMALL, f"data.root='{DATA}'", f"train.out_dir='{tmp_path / 'run'}'"]
    argv = ["train", str(ROOT / "configs" / config)]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    return tmp_path / "run" / "ckpt.pt"


@needs_data
@pytest.mark.parametrize("config", ["protein.toml", "protein_cogen.toml"])
def test_train_then_sample_backbones_of_a_chosen_length_into_pdb(config, tmp_path, capsys):
    ckpt = train(config, tmp_path)
    capsys.readouterr()
    pdb = tmp_path / "pdb"
    argv = [
        "sample",
        str(ckpt),
        "--n",
        "2",
        "--steps",
        "4",
        "--length",
        "20",
        "--rotation-rate",
        "10",
        "--final-jump",
        "--pdb-dir",
        str(pdb),
        "--out",
        str(tmp_path / "s.pt"),
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 2
    files = sorted(pdb.glob("sample_*.pdb"))
    assert len(files) == 2
    residues = list(gemmi.read_structure(str(files[0]))[0][0])
    assert len(residues) == 20
    names = {r.name for r in residues}
    assert (names == {"GLY"}) == (config == "protein.toml")  # co-generation writes its sequence

    assert main([*argv[:2], "--final-jump", "--method", "midpoint"]) == 2
    want = "--final-jump samples with" if config == "protein.toml" else "does not integrate"
    assert want in capsys.readouterr().err  # products have euler only, SE3 jumps with euler
