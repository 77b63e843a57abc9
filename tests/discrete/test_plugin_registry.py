"""discrete_fm is a plugin of manifold_fm: found by entry point, never imported by the core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from manifold_fm.cli import registry
from manifold_fm.cli.registry import DATASETS, MODELS, SPACES, PluginError
from manifold_fm.cli.run_config import load_run_config
from manifold_fm.keyword_check import ConfigKeyError

ROOT = Path(__file__).resolve().parents[2]


def test_manifold_fm_sources_never_name_discrete_fm():
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((ROOT / "manifold_fm").rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), start=1)
        if "discrete_fm" in line
    ]
    assert hits == []


def test_a_sphere_run_does_not_import_discrete_fm():
    code = (
        "import sys\n"
        "import manifold_fm\n"
        "from manifold_fm.cli.registry import DATASETS, MODELS, SPACES\n"
        "from manifold_fm.cli.run_config import load_run_config\n"
        "run = load_run_config(sys.argv[1], ['data.n=32', 'model.hidden=8'])\n"
        "s = SPACES.build(run.space); m = MODELS.build(run.model, s); DATASETS.build(run.data, s)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] == 'discrete_fm'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "configs" / "sphere_mlp.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_discrete_kinds_come_from_the_plugin_entry_point():
    eps = [ep.value for ep in registry.importlib.metadata.entry_points(group=registry.PLUGIN_GROUP)]
    assert "discrete_fm.registry:register" in eps
    assert {"ctmc"} <= set(SPACES.names()) and "transformer" in MODELS.names()
    assert {"text", "msa"} <= set(DATASETS.names())
    with pytest.raises(
        ConfigKeyError, match=r"unknown space kind 'ctmcc'.*did you mean 'ctmc'.*known: .*sphere"
    ):
        SPACES.build({"kind": "ctmcc"})


def test_text_ctmc_config_builds_space_and_model():
    run = load_run_config(ROOT / "configs" / "text_ctmc.toml")
    space = SPACES.build(run.space)
    model = MODELS.build({**run.model, "dim": 16, "depth": 1, "heads": 2}, space)
    x = space.sample_prior(2)
    assert model(x, torch.rand(2)).shape == (2, 128, 65)
    from discrete_fm import SequenceTransformer

    assert isinstance(model, SequenceTransformer)


def test_text_ctmc_data_builds_when_the_data_is_present():
    candidates = (
        os.environ.get("MFM_DATA"),
        ROOT.parent / "shared/data",
        ROOT.parents[1] / "shared/data",
    )
    root = next((Path(p) for p in candidates if p and Path(p).is_dir()), ROOT.parent)
    if not (root / "text" / "tinyshakespeare.txt").is_file():
        pytest.skip(f"text/tinyshakespeare.txt not under {root}")
    run = load_run_config(ROOT / "configs" / "text_ctmc.toml")
    space = SPACES.build(run.space)
    data = DATASETS.build({**run.data, "root": str(root)}, space)
    assert data.shape[1] == 128 and int(data.max()) < 65 and data.dtype == torch.long


def test_a_broken_plugin_is_named(monkeypatch):
    class Broken:
        name, value = "broken", "nowhere:register"

        def load(self):
            raise ImportError("no module named nowhere")

    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda group: [Broken()])
    with pytest.raises(PluginError, match=r"plugin 'broken' \(nowhere:register\)"):
        registry.load_plugins()


def test_a_plugin_can_add_a_kind(monkeypatch):
    class Plugin:
        name, value = "toy", "toy:register"

        def load(self):
            def register(spaces, models, datasets):
                spaces.register("toy_sphere")(lambda d=2: SPACES.get("sphere")(d))

            return register

    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda group: [Plugin()])
    monkeypatch.setattr(SPACES, "_items", dict(SPACES._items))
    assert tuple(SPACES.build({"kind": "toy_sphere", "d": 3}).event_shape) == (4,)
