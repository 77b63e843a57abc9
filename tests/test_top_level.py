"""The top level: one import line for a first script, and still a light ``import manifold_fm``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import manifold_fm
from manifold_fm import nn, solvers, testing, train

HEAVY = ("geoopt", "scipy", "torchdiffeq", "matplotlib", "torch_geometric", "e3nn", "gemmi")
LAZY = {
    "sample": solvers,
    "log_prob": solvers,
    "Trainer": train,
    "TrainConfig": train,
    "check_space": testing,
    "build_mlp": nn,
}


@pytest.mark.parametrize("name", sorted(LAZY))
def test_the_top_level_names_are_the_library_objects(name):
    assert getattr(manifold_fm, name) is getattr(LAZY[name], name)
    assert name in manifold_fm.__all__ and name in dir(manifold_fm)


def test_every_public_name_resolves_and_a_typo_is_an_attribute_error():
    for name in manifold_fm.__all__:
        assert getattr(manifold_fm, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'Trainr'"):
        manifold_fm.Trainr


def test_import_manifold_fm_defers_the_trainer_solvers_and_check_space():
    """`import manifold_fm` imports the spaces only; the other names come on first use."""
    code = (
        "import sys, manifold_fm\n"
        "mods = ('manifold_fm.train', 'manifold_fm.solvers', 'manifold_fm.testing')\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
        "from manifold_fm import Sphere, Trainer, TrainConfig, check_space, log_prob, sample\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "[]",
        "['manifold_fm.solvers', 'manifold_fm.testing', 'manifold_fm.train']",
        "[]",  # and the names themselves load none of the heavy optional packages
    ]
