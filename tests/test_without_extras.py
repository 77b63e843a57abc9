"""manifold-fm without the ``proteins`` extra: what a plain ``pip install manifold-fm`` gets.

One subprocess hides the extra's packages (gemmi, torch-geometric, e3nn, pydssp, tmtools)
the way a fresh environment lacks them: a finder that stands in for Python's path finder
and finds neither them nor their distributions, so ``importlib.util.find_spec`` answers
None and ``import gemmi`` raises ModuleNotFoundError, exactly as when they are not
installed (while manifold-fm's own entry points stay visible). In it:

* ``import manifold_fm`` loads none of the extra's packages, nor matplotlib;
* the README's first example (the sphere) runs;
* ``import manifold_fm.proteins`` raises an ImportError naming the extra;
* the ``mfm`` kind registries still list and build the core kinds (and discrete_fm's), and
  asking for a protein kind, in Python or through ``mfm train``, says which extra to install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTRA = ("gemmi", "torch_geometric", "e3nn", "pydssp", "tmtools")

HIDE_EXTRA = f"""
import sys
from importlib.machinery import PathFinder

HIDDEN = {EXTRA!r}


class WithoutExtra:
    '''Python's path finder, except that the proteins extra is not installed.'''

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return PathFinder.find_spec(name, path, target)

    @classmethod
    def find_distributions(cls, *args, **kwargs):  # importlib.metadata: entry points
        for dist in PathFinder.find_distributions(*args, **kwargs):
            if (dist.metadata["Name"] or "").lower().replace("-", "_") not in HIDDEN:
                yield dist

    @classmethod
    def invalidate_caches(cls):
        PathFinder.invalidate_caches()


sys.meta_path[:] = [WithoutExtra if f is PathFinder else f for f in sys.meta_path]
"""

PROBE = """
import json, sys

out = {}
import manifold_fm

out["after_import"] = sorted(
    m for m in (*HIDDEN, "matplotlib") if m in sys.modules or any(
        k.startswith(m + ".") for k in sys.modules)
)

namespace = {}
exec(compile(README_BLOCK, "README first block", "exec"), namespace)
out["readme_x_shape"] = list(namespace["out"].x.shape)

try:
    import manifold_fm.proteins
except ImportError as err:
    out["proteins_error"] = f"{type(err).__name__}: {err}"
else:
    out["proteins_error"] = None

from manifold_fm.cli.registry import MODELS, SPACES, skipped_plugins
from manifold_fm.keyword_check import ConfigKeyError

out["space_kinds"] = SPACES.names()
out["model_kinds"] = MODELS.names()
out["skipped"] = skipped_plugins()
space = SPACES.build({"kind": "sphere", "d": 2})
out["built"] = repr(space)
out["mlp"] = type(MODELS.build({"kind": "mlp", "hidden": 8}, space)).__name__
try:
    SPACES.build({"kind": "se3_backbone", "n_frames": 8})
except ConfigKeyError as err:
    out["protein_kind_error"] = str(err)
import contextlib, io
from manifold_fm.cli import main

out["cli"] = {}
for cfg in ("protein", "protein_cogen"):  # a protein space: the plugin's, discrete_fm's
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["train", f"{CONFIGS}/{cfg}.toml", "--set", "train.steps=1"])
    out["cli"][cfg] = [rc, err.getvalue()]
out["hidden_loaded_at_end"] = sorted(m for m in HIDDEN if m in sys.modules)
print("RESULT " + json.dumps(out))
"""


def _first_python_block() -> str:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)[0]


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    script = (
        HIDE_EXTRA
        + f"README_BLOCK = {_first_python_block()!r}\nCONFIGS = {str(ROOT / 'configs')!r}\n"
        + textwrap.dedent(PROBE)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path_factory.mktemp("without_extras"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def test_import_manifold_fm_loads_no_extra_and_no_matplotlib(probe):
    assert probe["after_import"] == []


def test_the_readme_sphere_example_runs(probe):
    assert probe["readme_x_shape"] == [1000, 3]


def test_importing_proteins_names_the_extra(probe):
    err = probe["proteins_error"]
    assert err is not None and err.startswith("ModuleNotFoundError")  # an ImportError
    assert "'proteins' extra" in err and "pip install 'manifold-fm[proteins]'" in err
    assert "gemmi" in err


def test_core_and_plugin_kinds_work_without_the_extra(probe):
    assert {"sphere", "euclidean", "ctmc"} <= set(probe["space_kinds"])
    assert "se3_backbone" not in probe["space_kinds"]
    assert {"mlp", "transformer"} <= set(probe["model_kinds"])
    assert "framenet" not in probe["model_kinds"]
    assert probe["built"].startswith("Sphere") and probe["mlp"]
    assert list(probe["skipped"]) == ["proteins"]
    assert probe["hidden_loaded_at_end"] == []


def test_a_protein_kind_says_which_extra_to_install(probe):
    msg = probe["protein_kind_error"]
    assert "unknown space kind 'se3_backbone'" in msg
    assert "plugin 'proteins' not loaded" in msg
    assert "pip install 'manifold-fm[proteins]'" in msg


def test_the_finder_really_hides_the_extra():
    """The probe's premise: with the finder in place, the extra's packages are absent."""
    code = HIDE_EXTRA + textwrap.dedent(
        """
        import importlib.util
        print(importlib.util.find_spec("gemmi"))
        try:
            import e3nn
        except ModuleNotFoundError as err:
            print("missing", err.name)
        import importlib.metadata as md
        names = {d.metadata["Name"] for d in md.distributions()}
        print("gemmi" in names, "manifold-fm" in names)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "missing", "e3nn", "False", "True"]


def test_mfm_train_on_a_protein_config_is_one_line_naming_the_extra(probe):
    for cfg, (rc, err) in probe["cli"].items():
        assert rc == 2, cfg
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mfm: error: "), (cfg, err)
        assert "pip install 'manifold-fm[proteins]'" in lines[0], cfg
