"""The protein benchmark's budgets: space, model, training, sampling and scoring of each.

``cpu`` is the committed run (an hour of training on one thread); ``gpu`` a larger
FrameNet on one CUDA device; ``smoke`` a seconds-long end-to-end check. A budget is
recorded whole in protein.json (``settings``, :meth:`Budget.as_dict`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["BUDGETS", "Budget"]


@dataclass(frozen=True)
class Budget:
    """One budget of the protein benchmark (read-only; the mappings are never mutated).

    ``space``: BackboneSE3 options; ``lr``, ``coupling``, ``rotation_rate`` (of the
    sampler), ``n_held`` held-out chains, ``device``; ``model``: FrameNet keywords;
    ``batch`` of ``crop``-residue crops, ``ema`` decay, ``minutes`` of training (steps from
    a timed probe of ``probe_steps``), ``threads``; the learning curve: ``curve_points``
    chunks, each scored on ``curve_n`` samples of ``curve_length`` residues; evaluation:
    ``per_length`` samples at each of ``lengths`` in ``sample_steps`` steps, TM novelty
    against ``novelty_ref`` training chains, ``pdb_per_length`` PDB files per length.
    ``self_condition`` None means on (the lever ablations set it False).
    """

    space: Mapping[str, float]
    lr: float
    coupling: str
    rotation_rate: float
    n_held: int
    device: str
    model: Mapping[str, int]
    batch: int
    crop: int
    ema: float
    minutes: float
    threads: int
    probe_steps: int
    curve_points: int
    curve_n: int
    curve_length: int
    lengths: list[int]
    per_length: int
    sample_steps: int
    novelty_ref: int
    pdb_per_length: int
    self_condition: bool | None = None

    @property
    def self_conditioned(self) -> bool:
        """Whether training and sampling use self-conditioning (the default)."""
        return self.self_condition is not False

    def as_dict(self) -> dict[str, Any]:
        """The budget as a JSON-ready dict in field order, ``self_condition`` only when set."""
        return {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if not (f.name == "self_condition" and self.self_condition is None)
        }


_SPACE = {"trans_scale": 10.0, "aux_atom_weight": 0.25, "aux_pair_weight": 0.25, "aux_t_min": 0.75}
_COMMON = {
    "space": _SPACE,
    "lr": 1e-3,
    "coupling": "kabsch_ot",
    "rotation_rate": 10.0,
    "n_held": 40,
}
BUDGETS: dict[str, Budget] = {
    "cpu": Budget(
        **_COMMON,
        device="cpu",
        model={"dim": 128, "edge_dim": 64, "n_layers": 3, "heads": 4, "k": 16},
        batch=16,
        crop=64,
        ema=0.999,
        minutes=60.0,
        threads=1,
        probe_steps=5,
        curve_points=8,
        curve_n=8,
        curve_length=64,
        lengths=[50, 75, 100, 150],
        per_length=10,
        sample_steps=100,
        novelty_ref=50,
        pdb_per_length=2,
    ),
    "gpu": Budget(
        **_COMMON,
        device="cuda",
        model={"dim": 144, "edge_dim": 64, "n_layers": 5, "heads": 4, "k": 24},
        batch=32,
        crop=128,
        ema=0.999,
        minutes=8.0,
        threads=8,
        probe_steps=10,
        curve_points=6,
        curve_n=4,
        curve_length=64,
        lengths=[50, 75, 100, 150],
        per_length=10,
        sample_steps=100,
        novelty_ref=100,
        pdb_per_length=2,
    ),
    "smoke": Budget(
        **_COMMON,
        device="cpu",
        model={
            "dim": 16,
            "edge_dim": 8,
            "n_layers": 1,
            "heads": 2,
            "head_dim": 4,
            "qk_points": 2,
            "v_points": 2,
            "k": 6,
        },
        batch=4,
        crop=32,
        ema=0.9,
        minutes=0.05,
        threads=1,
        probe_steps=2,
        curve_points=2,
        curve_n=2,
        curve_length=32,
        lengths=[50, 75],
        per_length=2,
        sample_steps=4,
        novelty_ref=3,
        pdb_per_length=1,
    ),
}
